"""`robot-stack dataset`: info, list, show, tag, remove, merge — the store stays readable and the
episodes not named stay byte-identical."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from audit_data import RIG, Plan, write_episode

from robot_stack.app.cli import main
from robot_stack.app.episode_select import parse_selection
from robot_stack.errors import RobotStackError
from robot_stack.store import Dataset
from robot_stack.store.synthetic import synthetic_rig


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def make(path: Path, n: int, rig=RIG, seconds: float = 0.6, calibration=None) -> Path:
    with Dataset.create(path, rig, calibration=calibration) as ds:
        for k in range(n):
            write_episode(ds, Plan(seed=k, seconds=seconds))
    return path


def readable(path: Path) -> list[int]:
    """Every episode opens and every array and frame reads, with plain store calls."""
    ds = Dataset.open(path)
    for k in ds.indices():
        ep = ds.episode(k)
        assert ep.observation[:].shape == ep.action[:].shape == (len(ep), 7)
        for name in ep.cameras:
            cam = ep.camera(name)
            assert len(cam.frames) == len(cam.t[:]) and cam.frames[len(cam.frames) - 1].shape == (96, 128, 3)
    return ds.indices()


@pytest.fixture
def three(tmp_path) -> Path:
    return make(tmp_path / "d.zarr", 3)


def test_parse_selection():
    assert parse_selection("1,4,7-9") == [1, 4, 7, 8, 9]
    assert parse_selection("3, 3,2") == [2, 3]
    for bad in ("a", "5-2", "-1", ""):
        with pytest.raises(RobotStackError):
            parse_selection(bad)


def test_info_list_and_show(three, capsys):
    assert main(["dataset", "info", str(three)]) == 0
    out = capsys.readouterr().out
    assert "synthetic" in out and "cam_high: 128×96 @ 30 fps" in out and "3 (next index 3)" in out
    assert main(["dataset", "info", str(three), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["episodes"] == 3 and info["tasks"] == {"transfer_cube": 3} and info["bytes_on_disk"] > 0
    assert main(["dataset", "list", str(three)]) == 0
    out = capsys.readouterr().out
    assert "3 of 3 episodes" in out and out.count("complete") == 3
    assert main(["dataset", "show", str(three), "1"]) == 0
    out = capsys.readouterr().out
    assert "episode 1 of" in out and "follower.waist" in out and "no flags" in out
    assert main(["dataset", "show", str(three), "7"]) == 1
    assert "has no episode 7" in capsys.readouterr().err


def test_tag_adds_and_removes_atomically_touching_only_the_attrs(three, capsys):
    before = digest(three / "episodes")
    assert main(["dataset", "tag", str(three), "0,2", "bad", "intervention"]) == 0
    assert main(["dataset", "tag", str(three), "2", "intervention", "--remove"]) == 0
    ds = Dataset.open(three)
    assert ds.tags == {"bad": [0, 2], "intervention": [0]}
    after = digest(three / "episodes")
    changed = {k for k in before if before[k] != after.get(k)}
    assert changed == {"000000/zarr.json", "000002/zarr.json"} and set(after) == set(before)
    assert main(["dataset", "list", str(three), "--tag", "bad"]) == 0
    assert "2 of 3 episodes" in capsys.readouterr().out
    assert main(["dataset", "tag", str(three), "1", "not a tag"]) == 1
    assert "not allowed" in capsys.readouterr().err
    assert main(["dataset", "tag", str(three), "5", "bad"]) == 1
    assert "no episode 5" in capsys.readouterr().err
    readable(three)


def test_tags_are_replaced_by_one_rename(three, monkeypatch):
    """A crash while writing the new attrs leaves the old ones: the file is never written in place."""
    import robot_stack.store.edit as edit

    def crash(*_):
        raise OSError("power cut")

    with Dataset.edit(three) as ds:
        monkeypatch.setattr(edit.os, "replace", crash)
        with pytest.raises(OSError):
            ds.set_tags(1, ["bad"])
    assert Dataset.open(three).episode(1).tags == [] and readable(three) == [0, 1, 2]
    assert not list((three / "episodes" / "000001").glob(".zarr.json.*"))


def test_remove_is_atomic_and_leaves_the_others_byte_identical(three, capsys):
    before = digest(three / "episodes")
    assert main(["dataset", "remove", str(three), "1"]) == 1  # no --yes, no terminal to ask
    assert "--yes" in capsys.readouterr().err and digest(three / "episodes") == before
    assert main(["dataset", "remove", str(three), "1", "--yes"]) == 0
    after = digest(three / "episodes")
    assert after == {k: v for k, v in before.items() if not k.startswith("000001")}
    assert readable(three) == [0, 2]
    assert sorted(p.name for p in (three / ".staging").iterdir()) == ["zarr.json"]
    # by tag, and an index is never given out again
    main(["dataset", "tag", str(three), "2", "bad"])
    assert main(["dataset", "remove", str(three), "--tag", "bad", "--yes"]) == 0
    assert readable(three) == [0]
    with Dataset.edit(three) as ds:
        assert write_episode(ds, Plan(seconds=0.3)) == 3
    assert main(["dataset", "remove", str(three), "1", "--yes"]) == 1
    assert "no episode 1; nothing was removed" in capsys.readouterr().err


def test_merge_copies_episodes_byte_for_byte_and_leaves_sources_untouched(tmp_path, capsys):
    a = make(tmp_path / "a.zarr", 2, calibration={"offset": 1})
    b = make(tmp_path / "b.zarr", 2, calibration={"offset": 2})
    sources_before = {p: digest(p) for p in (a, b)}
    dest = tmp_path / "all.zarr"
    assert main(["dataset", "merge", str(dest), str(a), str(b)]) == 0
    assert "merged 4 episode(s)" in capsys.readouterr().out
    assert {p: digest(p) for p in (a, b)} == sources_before
    assert readable(dest) == [0, 1, 2, 3]
    merged = Dataset.open(dest)
    assert merged.attrs["rig_yaml"] == Dataset.open(a).attrs["rig_yaml"]
    assert merged.attrs["calibration"] == {"offset": 1}
    for new, (src, k) in enumerate([(a, 0), (a, 1), (b, 0), (b, 1)]):
        attrs = merged.episode(new).attrs
        assert attrs["origin"] == {"dataset": str(src.resolve()), "index": k}
        # b's takes were recorded with b's calibration, and say so
        assert attrs.get("calibration") == (None if src == a else {"offset": 2})
        copied, original = digest(dest / "episodes" / f"{new:06d}"), digest(src / "episodes" / f"{k:06d}")
        assert {f for f in copied if copied[f] != original.get(f)} == {
            "zarr.json"
        }  # only the attrs gained origin
        np.testing.assert_array_equal(
            merged.episode(new).observation[:], Dataset.open(src).episode(k).observation[:]
        )
    # merging more into an existing dataset leaves its episodes byte-identical
    before = digest(dest / "episodes")
    c = make(tmp_path / "c.zarr", 1)
    assert main(["dataset", "merge", str(dest), str(c)]) == 0
    after = digest(dest / "episodes")
    assert {k: v for k, v in after.items() if not k.startswith("000004")} == before
    assert readable(dest) == [0, 1, 2, 3, 4]


def test_merge_refuses_another_rig_and_changes_nothing(tmp_path, capsys):
    a = make(tmp_path / "a.zarr", 1)
    other = make(tmp_path / "other.zarr", 1, rig=synthetic_rig(cameras=("cam_high", "cam_wrist"), fps=15))
    dest = tmp_path / "all.zarr"
    assert main(["dataset", "merge", str(dest), str(a), str(other)]) == 1
    err = capsys.readouterr().err
    assert "different rigs" in err and "cameras.cam_high.fps" in err and "same rig" in err
    assert not dest.exists()
    before = digest(a)
    assert main(["dataset", "merge", str(a), str(other)]) == 1
    assert "different rigs" in capsys.readouterr().err and digest(a) == before
    assert main(["dataset", "merge", str(a), str(a)]) == 1
    assert "cannot also be a source" in capsys.readouterr().err


def test_dataset_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["dataset", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "robot-stack dataset merge" in out
