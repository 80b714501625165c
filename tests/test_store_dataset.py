"""Creating, resuming, removing and discarding episodes; every refusal says what to do."""

import hashlib
import time
from pathlib import Path

import numpy as np
import pytest

from robot_stack.errors import RobotStackError
from robot_stack.store import Dataset
from robot_stack.store.synthetic import feed_synthetic, synthetic_rig

RIG = synthetic_rig()


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def record(ds: Dataset, seconds: float = 0.4, **kwargs) -> int:
    writer = ds.begin_episode("transfer_cube", **kwargs)
    feed_synthetic(writer, seconds, RIG, keep_frames=False)
    return writer.finish()


def test_refuses_to_create_over_an_existing_dataset(tmp_path):
    path = tmp_path / "d.zarr"
    Dataset.create(path, RIG).close()
    with pytest.raises(RobotStackError) as err:
        Dataset.create(path, RIG)
    assert "already holds a dataset" in err.value.message and "--resume" in err.value.hint


def test_resume_appends_with_the_next_index_and_keeps_earlier_episodes(tmp_path):
    path = tmp_path / "d.zarr"
    with Dataset.create(path, RIG) as ds:
        assert [record(ds), record(ds)] == [0, 1]
    before = digest(path / "episodes")
    with Dataset.resume(path, RIG) as ds:
        assert record(ds) == 2
    after = digest(path / "episodes")
    assert {k: v for k, v in after.items() if not k.startswith("000002")} == before
    assert list(Dataset.open(path).episodes()) == [0, 1, 2]


def test_resume_with_another_rig_says_what_differs(tmp_path):
    path = tmp_path / "d.zarr"
    Dataset.create(path, RIG).close()
    other = synthetic_rig(fps=60, cameras=("cam_high", "cam_side"))
    with pytest.raises(RobotStackError) as err:
        Dataset.resume(path, other)
    message = err.value.message
    assert "another rig" in message
    assert "cameras.cam_high.fps: dataset has 30, this rig has 60" in message
    assert (
        "cameras.cam_wrist: only in the dataset's rig" in message
        and "cameras.cam_side: only in this rig" in message
    )


def test_resume_of_a_missing_dataset_refuses(tmp_path):
    with pytest.raises(RobotStackError, match="no dataset"):
        Dataset.resume(tmp_path / "nothing.zarr", RIG)


def test_one_writer_at_a_time_and_readers_cannot_write(tmp_path):
    path = tmp_path / "d.zarr"
    with Dataset.create(path, RIG):
        # flock is per open file description, so a second open in this process conflicts like another process
        with pytest.raises(RobotStackError, match="being written by another process"):
            Dataset.resume(path, RIG)
    reader = Dataset.open(path)
    with pytest.raises(RobotStackError, match="opened for reading"):
        reader.begin_episode("x")


def test_remove_keeps_the_others_byte_identical_and_never_reuses_the_index(tmp_path):
    path = tmp_path / "d.zarr"
    with Dataset.create(path, RIG) as ds:
        for _ in range(3):
            record(ds)
        before = digest(path / "episodes")
        ds.remove_episode(2)
        ds.remove_episode(1)
        after = digest(path / "episodes")
        assert after == {k: v for k, v in before.items() if k.startswith("000000") or k == "zarr.json"}
        assert list((path / ".staging").iterdir()) == [path / ".staging" / "zarr.json"]
        assert record(ds) == 3
        with pytest.raises(RobotStackError, match="no episode 1"):
            ds.remove_episode(1)


def test_discard_leaves_nothing(tmp_path):
    path = tmp_path / "d.zarr"
    with Dataset.create(path, RIG) as ds:
        writer = ds.begin_episode("x")
        feed_synthetic(writer, 0.3, RIG, keep_frames=False)
        writer.discard()
        assert writer.stats().state == "discarded"
        with pytest.raises(RobotStackError, match="already finished or discarded"):
            writer.add_tick(0.0, np.zeros(7), np.zeros(7))
        with pytest.raises(ValueError):
            with ds.begin_episode("y") as w:
                feed_synthetic(w, 0.1, RIG, keep_frames=False)
                raise ValueError("operator pressed re-record")
        assert record(ds) == 0
    assert Dataset.open(path).indices() == [0]
    assert sorted(p.name for p in (path / ".staging").iterdir()) == ["zarr.json"]


def test_full_queue_is_refused_counted_and_stored(tmp_path):
    with Dataset.create(tmp_path / "d.zarr", RIG) as ds:
        writer = ds.begin_episode("x", max_queue_bytes=1, encode_threads=1)
        assert writer.add_tick(1.0, np.zeros(7), np.zeros(7))  # an empty queue takes any one item
        while writer.stats().queue_items:
            time.sleep(0.001)
        frame = np.zeros((96, 128, 3), np.uint8)
        accepted = [writer.add_frame("cam_high", 1.0 + i / 30, frame) for i in range(200)]
        stats = writer.stats()
        assert (
            accepted[0] and not all(accepted) and stats.rejected_frames["cam_high"] == accepted.count(False)
        )
        assert stats.frames["cam_high"] == accepted.count(True)
        index = writer.finish()
        stored = ds.episode(index).attrs["stats"]["cameras"]["cam_high"]
        assert stored["rejected"] == accepted.count(False) and stored["frames"] == accepted.count(True)


def test_bad_input_is_refused_in_the_callers_thread(tmp_path):
    with Dataset.create(tmp_path / "d.zarr", RIG) as ds, ds.begin_episode("x") as writer:
        with pytest.raises(RobotStackError, match="not in the rig"):
            writer.add_frame("cam_nope", 1.0, np.zeros((96, 128, 3), np.uint8))
        with pytest.raises(RobotStackError, match=r"\(96, 128, 3\) uint8"):
            writer.add_frame("cam_high", 1.0, np.zeros((48, 64, 3), np.uint8))
        with pytest.raises(RobotStackError, match="timestamp is nan"):
            writer.add_tick(float("nan"), np.zeros(7), np.zeros(7))
        writer.add_tick(1.0, np.zeros(7), np.zeros(7), current=np.zeros(7))
        with pytest.raises(RobotStackError, match="differs from the first tick"):
            writer.add_tick(1.02, np.zeros(7), np.zeros(7))


def test_an_episode_without_ticks_is_not_saved(tmp_path):
    with Dataset.create(tmp_path / "d.zarr", RIG) as ds:
        writer = ds.begin_episode("x")
        with pytest.raises(RobotStackError, match="no control ticks"):
            writer.finish()
        assert ds.indices() == []


def test_device_timestamps_and_latency_are_kept(tmp_path):
    with Dataset.create(tmp_path / "d.zarr", RIG) as ds:
        writer = ds.begin_episode(
            "x", camera_latency_s={"cam_high": 0.03}, joint_names=[f"j{i}" for i in range(7)]
        )
        frame = np.zeros((96, 128, 3), np.uint8)
        for i in range(10):
            writer.add_tick(i * 0.02, np.full(7, i), np.zeros(7))
        for i in range(6):
            writer.add_frame("cam_high", 0.035 + i / 30, frame, t_device=1000.0 + i / 30)
        ep = ds.episode(writer.finish())
    cam = ep.camera("cam_high")
    assert cam.latency_s == 0.03 and ep.joint_names[0] == "j0"
    np.testing.assert_allclose(cam.t_device[:], 1000.0 + np.arange(6) / 30)
    assert cam.tick[0] == -1 and cam.tick[1] == 0  # stamped 0.035, exposed 0.005
    assert ep.camera("cam_wrist").frames.shape[0] == 0 and ep.camera("cam_wrist").t_device is None


def test_frames_given_as_views_are_stored(tmp_path):
    bgr = np.zeros((96, 128, 3), np.uint8)
    bgr[..., 0] = 200  # blue in OpenCV's order
    with Dataset.create(tmp_path / "d.zarr", RIG) as ds:
        writer = ds.begin_episode("x")
        writer.add_tick(0.0, np.zeros(7), np.zeros(7))
        writer.add_frame("cam_high", 0.0, bgr[..., ::-1])  # a camera driver's BGR→RGB view
        ep = ds.episode(writer.finish())
    assert abs(int(ep.camera("cam_high").frames[0][..., 2].mean()) - 200) <= 2


def test_resume_with_a_new_calibration_records_it_per_episode(tmp_path):
    path = tmp_path / "d.zarr"
    with Dataset.create(path, RIG, calibration={"offset": 1}) as ds:
        first = record(ds, 0.1)
    with Dataset.resume(path, RIG, calibration={"offset": 2}) as ds:
        second = record(ds, 0.1)
    ds = Dataset.open(path)
    assert ds.attrs["calibration"] == {"offset": 1}
    assert "calibration" not in ds.episode(first).attrs
    assert ds.episode(second).attrs["calibration"] == {"offset": 2}


def test_finish_without_waiting_then_close_commits_and_unfinished_is_dropped(tmp_path):
    path = tmp_path / "d.zarr"
    with Dataset.create(path, RIG) as ds:
        saving = ds.begin_episode("saved in the background")
        feed_synthetic(saving, 0.2, RIG, keep_frames=False)
        assert saving.finish(wait=False) is None
        with pytest.raises(RobotStackError, match="already called"):
            saving.discard()
        forgotten = ds.begin_episode("never finished")
        feed_synthetic(forgotten, 0.1, RIG, keep_frames=False)
    assert saving.wait() == 0 and forgotten.stats().state == "discarded"
    assert Dataset.open(path).indices() == [0]


def test_rig_file_text_is_kept_and_resume_compares_the_parsed_rig(tmp_path, repo_root):
    rig_file = repo_root / "hardware.yaml"
    path = tmp_path / "d.zarr"
    Dataset.create(path, rig_file).close()
    ds = Dataset.open(path)
    assert ds.attrs["rig_yaml"] == rig_file.read_text()
    assert set(ds.rig.cameras) == {"cam_high", "cam_low", "cam_left_wrist", "cam_right_wrist"}
    reformatted = tmp_path / "same_rig.yaml"
    reformatted.write_text("# the same rig, other comments\n" + rig_file.read_text())
    Dataset.resume(path, reformatted).close()  # comments and layout do not make another rig
