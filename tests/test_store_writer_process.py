"""The writer process: zarr writes leave the recording process; its failures reach the episode, named."""

import os
import signal
from multiprocessing import Pipe

import numpy as np
import pytest
from process_support import alive, assert_exits

from robot_stack.errors import RobotStackError
from robot_stack.store import Dataset
from robot_stack.store.sink_messages import receive, send
from robot_stack.store.synthetic import feed_synthetic, synthetic_rig

RIG = synthetic_rig()


def test_messages_carry_arrays_and_payload_exactly():
    a, b = Pipe(duplex=False)
    rows = {
        "observation": np.arange(7, dtype=np.float32),
        "flags": np.array([True, False]),
        "current": np.arange(6, dtype=np.int16).reshape(2, 3),
        "empty": np.zeros((0, 4), np.float64),
    }
    send(b, {"op": "tick", "episode": 3, "t": 1.5}, rows, payload=b"\xff\xd8jpeg")
    header, arrays, payload = receive(a)
    assert header == {"op": "tick", "episode": 3, "t": 1.5}
    assert list(arrays) == list(rows)
    for name, value in rows.items():
        assert arrays[name].dtype == value.dtype and np.array_equal(arrays[name], value)
    assert bytes(payload) == b"\xff\xd8jpeg"


def test_episodes_are_written_by_another_process_that_ends_with_the_dataset(tmp_path):
    ds = Dataset.create(tmp_path / "d.zarr", RIG)
    writer = ds.begin_episode("x")
    feed_synthetic(writer, 0.3, RIG, keep_frames=False)
    assert writer.finish() == 0
    pid = ds.writer_pid
    assert pid is not None and pid != os.getpid() and alive(pid)
    writer = ds.begin_episode("y")  # the same process writes the next episode
    feed_synthetic(writer, 0.2, RIG, keep_frames=False)
    assert writer.finish() == 1 and ds.writer_pid == pid
    ds.close()
    assert_exits(pid, 5.0, "the writer process of a closed dataset")
    assert Dataset.open(tmp_path / "d.zarr").indices() == [0, 1]


def test_a_writer_started_ahead_is_the_one_that_writes(tmp_path):
    with Dataset.create(tmp_path / "d.zarr", RIG) as ds:
        assert ds.writer_pid is None
        ds.start_writer()
        pid = ds.writer_pid
        assert pid is not None and alive(pid)
        ds.start_writer()  # already running: kept
        writer = ds.begin_episode("x")
        feed_synthetic(writer, 0.2, RIG, keep_frames=False)
        assert writer.finish() == 0 and ds.writer_pid == pid
    assert_exits(pid, 5.0, "the writer process of a closed dataset")


def test_ctrl_c_does_not_stop_the_writer_process(tmp_path):
    with Dataset.create(tmp_path / "d.zarr", RIG) as ds:
        writer = ds.begin_episode("x")
        feed_synthetic(writer, 0.2, RIG, keep_frames=False)
        assert writer.finish() == 0
        pid = ds.writer_pid
        assert os.getpgid(pid) != os.getpgrp()  # a terminal's Ctrl-C signals our group, not its
        writer = ds.begin_episode("y")
        feed_synthetic(writer, 0.2, RIG, keep_frames=False)
        os.kill(pid, signal.SIGINT)  # and sent to it directly, it is ignored
        feed_synthetic(writer, 0.2, RIG, start=101.0, keep_frames=False)
        assert writer.finish() == 1 and alive(pid)
        assert len(ds.episode(1)) == 20


def test_a_dead_writer_process_fails_the_episode_loudly_and_the_next_one_records(tmp_path):
    path = tmp_path / "d.zarr"
    with Dataset.create(path, RIG) as ds:
        writer = ds.begin_episode("kept")
        feed_synthetic(writer, 0.2, RIG, keep_frames=False)
        assert writer.finish() == 0

        writer = ds.begin_episode("doomed")
        feed_synthetic(writer, 0.2, RIG, keep_frames=False)
        os.kill(ds.writer_pid, signal.SIGKILL)
        start = 101.0
        with pytest.raises(RobotStackError) as err:
            while start < 110:  # the failure reaches the loop's side within a few calls
                feed_synthetic(writer, 0.1, RIG, start=start, keep_frames=False)
                start += 0.1
        assert "episode writer process exited with code -9" in err.value.message
        assert "earlier episodes are intact" in err.value.message and "--resume" in err.value.hint
        assert writer.stats().state == "failed"
        assert [p.name for p in (path / ".staging").iterdir()] == ["zarr.json"]

        writer = ds.begin_episode("after")  # a new writer process takes over
        feed_synthetic(writer, 0.2, RIG, keep_frames=False)
        assert writer.finish() == 1
    assert Dataset.open(path).indices() == [0, 1]


def test_per_tick_values_must_be_numbers(tmp_path):
    with Dataset.create(tmp_path / "d.zarr", RIG) as ds, ds.begin_episode("x") as writer:
        with pytest.raises(RobotStackError, match="'note' holds <U5 values; only numbers and booleans"):
            writer.add_tick(1.0, np.zeros(7), np.zeros(7), note="hello")
        writer.add_tick(1.0, np.zeros(7), np.zeros(7))


LOCK_HOLDER = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_leftover_still_locked_by_a_writer_is_deleted_once_that_writer_exits(tmp_path, monkeypatch):
    import subprocess
    import sys

    from robot_stack.store import leftovers

    path = tmp_path / "d.zarr"
    Dataset.create(path, RIG).close()
    partial = path / ".staging" / "partial-0123"
    partial.mkdir()
    (partial / "zarr.json").write_text('{"attributes": {"task": "late"}}')

    def held_for(seconds: float) -> subprocess.Popen:
        holder = subprocess.Popen(
            [sys.executable, "-c", LOCK_HOLDER, str(partial), str(seconds)], stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout.readline().strip() == "locked"
        return holder

    monkeypatch.setattr(leftovers, "_WRITER_EXIT_S", 0.3)
    holder = held_for(30.0)  # a writer that does not go away: the folder is left alone
    try:
        [left] = Dataset.open(path).leftovers
        assert not left.removed and partial.is_dir()
    finally:
        holder.kill()
        holder.wait()

    monkeypatch.setattr(leftovers, "_WRITER_EXIT_S", 10.0)
    holder = held_for(0.5)  # a writer finishing its last write: waited for, then deleted
    [left] = Dataset.open(path).leftovers
    holder.wait()
    assert left.removed and left.task == "late" and not partial.exists()
