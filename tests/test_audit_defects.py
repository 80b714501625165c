"""The audit finds each defect planted in a synthetic dataset, in the episode it was planted in, and
says nothing about the clean takes around them."""

import json
import shutil
import time

import pytest
from audit_data import RIG, Plan, defect_dataset, write_episode

from robot_stack.app.audit import AuditOptions, run_audit
from robot_stack.app.audit.model import ERROR
from robot_stack.app.cli import main
from robot_stack.store import Dataset

EXPECTED = {
    "clean_a": set(),
    "dropped": {"dropped_frames"},
    "duplicated": {"duplicate_frames"},
    "non_monotonic": {"non_monotonic_time"},
    "clean_b": set(),
    "idle": {"idle"},  # the pause also bends the take's trajectory: may be a trajectory outlier too
    "outlier": {"length_outlier", "trajectory_outlier"},
    "truncated": {"truncated"},
    "clean_c": set(),
    "joint_stop": {"joint_saturation"},
    "gripper_range": {"gripper_saturation"},
    "loose_joint": {"tracking_error"},
    "aborted": {"partial"},
    "shard_cut": {"unreadable"},
    "nan": {"non_finite"},
    "misaligned": {"bad_alignment"},
}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    path = tmp_path_factory.mktemp("audit_defects") / "defects.zarr"
    return path, defect_dataset(path)


@pytest.fixture(scope="module")
def report(planted):
    return run_audit(planted[0])


def test_every_planted_defect_is_found_where_it_was_planted(planted, report):
    _, where = planted
    found = {what: set(report.episode(k).codes) for what, k in where.items()}
    for what, codes in EXPECTED.items():
        if what == "idle":
            assert "idle" in found[what] and found[what] <= {"idle", "trajectory_outlier"}, found[what]
        else:
            assert found[what] == codes, (what, found[what])
    assert report.dataset_flags == []


def test_flags_say_where_and_how_much(planted, report):
    _, where = planted
    ep = report.episode(where["dropped"])
    flag = next(f for f in ep.flags if f.code == "dropped_frames")
    assert flag.camera == "cam_high" and "15 frame(s) missing" in flag.message
    # frames 60–74 of a 30 fps camera: the gap sits at 2.0–2.5 s of the episode
    ((start, end),) = flag.spans
    assert start == pytest.approx(59 / 30, abs=0.01) and end == pytest.approx(75 / 30, abs=0.01)
    assert (
        ep.metrics["cameras"]["cam_high"]["dropped"] == 15
        and ep.metrics["cameras"]["cam_wrist"]["dropped"] == 0
    )

    dup = next(f for f in report.episode(where["duplicated"]).flags if f.code == "duplicate_frames")
    assert dup.camera == "cam_wrist" and "6 duplicated" in dup.message and "7 identical frames" in dup.message

    idle = next(f for f in report.episode(where["idle"]).flags if f.code == "idle")
    ((start, end),) = idle.spans
    assert start == pytest.approx(1.5, abs=0.3) and end == pytest.approx(4.5, abs=0.3)

    assert "sample 150" in report.episode(where["non_monotonic"]).flags[0].message
    assert "175 rows for 200 ticks" in report.episode(where["truncated"]).flags[0].message
    for what in ("truncated", "shard_cut", "nan", "misaligned", "non_monotonic", "aborted"):
        assert report.episode(where[what]).worst == ERROR, what
    for what in ("dropped", "duplicated", "idle", "outlier", "joint_stop", "gripper_range", "loose_joint"):
        assert report.episode(where[what]).worst == "warning", what


def test_outliers_are_judged_against_the_readable_episodes_of_the_task(planted, report):
    _, where = planted
    figures = report.overview["outliers"]["transfer_cube"]
    assert figures["checked"]
    # damaged episodes do not take part: they would bend the median take
    for what in ("truncated", "nan", "non_monotonic", "shard_cut", "misaligned", "aborted"):
        assert where[what] not in figures["distance_rad"]
    assert figures["median_length_s"] == pytest.approx(4.0, abs=0.05)


def test_crash_leftovers_are_reported(tmp_path):
    path = tmp_path / "d.zarr"
    with Dataset.create(path, RIG) as ds:
        write_episode(ds, Plan(seconds=1.0))
    leftover = path / ".staging" / "partial-0123abcd"
    shutil.copytree(path / "episodes" / "000000", leftover)
    report = run_audit(path)
    assert [f.code for f in report.dataset_flags] == ["partial"]
    assert "unfinished episode" in report.dataset_flags[0].message and not leftover.exists()


def test_audit_command_prints_a_table_writes_json_and_can_fail(planted, tmp_path, capsys):
    path, where = planted
    out = tmp_path / "audit.json"
    assert main(["audit", "--dataset", str(path), "--json", str(out), "--episodes", "0-3"]) == 0
    text = capsys.readouterr().out
    assert "dropped_frames" in text and "non_monotonic_time" in text and "4 episodes" in text
    data = json.loads(out.read_text())
    assert [e["index"] for e in data["episodes"]] == [0, 1, 2, 3]
    assert data["flag_counts"] == {"dropped_frames": 1, "duplicate_frames": 1, "non_monotonic_time": 1}
    assert main(["audit", "--dataset", str(path), "--episodes", "0-2", "--fail-on", "error"]) == 0
    assert main(["audit", "--dataset", str(path), "--episodes", "0-2", "--fail-on", "warning"]) == 3
    assert main(["audit", "--dataset", str(path), "--episodes", "3", "--fail-on", "error"]) == 3


def test_audit_command_refuses_bad_input_clearly(tmp_path, capsys):
    assert main(["audit", "--dataset", str(tmp_path / "nothing.zarr")]) == 1
    assert "no dataset at" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["audit", "--dataset", str(tmp_path / "empty")]) == 1
    assert "not an episode dataset" in capsys.readouterr().err
    assert main(["audit", "--dataset", str(tmp_path / "empty"), "--episodes", "x-2"]) == 1
    assert "not an episode number" in capsys.readouterr().err


def test_html_report_of_the_defects_names_them(planted, tmp_path):
    from robot_stack.app.audit.report_html import write_html

    path, where = planted
    report = run_audit(path, AuditOptions(html=True, episodes=[where["dropped"], where["truncated"]]))
    page = write_html(report, tmp_path / "r.html").read_text()
    assert page.count("<section class='episode'") == 2
    assert "dropped_frames" in page and "truncated" in page
    assert page.count("class='thumb'") == 2 * 2 * 8  # two episodes, two cameras, eight frames
    assert "No joint plot" in page  # the truncated episode cannot be plotted


def test_a_take_being_recorded_is_not_called_damage(tmp_path):
    path = tmp_path / "d.zarr"
    with Dataset.create(path, RIG) as ds:
        write_episode(ds, Plan(seconds=1.0))
        writer = ds.begin_episode("transfer_cube")  # in progress while the audit runs
        writer.add_tick(1.0, [0.0] * 7, [0.0] * 7)
        while not any((path / ".staging").glob("partial-*")):
            time.sleep(0.001)
        report = run_audit(path)
        writer.discard()
    assert [(f.code, f.severity) for f in report.dataset_flags] == [("recording", "warning")]
    assert [ep.index for ep in report.episodes] == [0] and report.episodes[0].flags == []
