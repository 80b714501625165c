"""The recorder's episode state machine and keys, without a rig: a stand-in loop feeds ticks, a real
dataset stores the takes, scripted key presses drive next / re-record / discard / stop."""

from __future__ import annotations

import os
import termios
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from robot_stack.app.record.frames import FramePump
from robot_stack.app.record.keys import DISCARD, NEXT, RERECORD, STOP, KeyReader, parse_keys
from robot_stack.app.record.quality import CameraFigures, TakeFigures, longest_idle_s, quality_flags
from robot_stack.app.record.session import RecordOptions, RecordSession
from robot_stack.app.teleop.loop import TeleopStatus, TickSample
from robot_stack.clock import MonotonicClock
from robot_stack.rate_loop import RateLoop
from robot_stack.store import Dataset
from robot_stack.store.synthetic import synthetic_rig


def test_keys_are_parsed_from_raw_terminal_input():
    assert parse_keys(b"n") == [NEXT]
    assert parse_keys(b"\x1b[C") == [NEXT]  # right arrow
    assert parse_keys(b"\x1bOC") == [NEXT]  # right arrow, application mode
    assert parse_keys(b"\x1b") == [STOP]  # Esc alone
    assert parse_keys(b"\x1b[Ar") == [RERECORD]  # up arrow ignored
    assert parse_keys(b"dxQ") == [DISCARD, STOP]


def test_key_reader_takes_keys_without_enter_and_restores_the_terminal():
    master, slave = os.openpty()
    try:
        with os.fdopen(os.dup(slave), "rb", buffering=0) as stream:
            before = termios.tcgetattr(slave)
            with KeyReader(stream) as keys:
                assert keys.active and not termios.tcgetattr(slave)[3] & termios.ICANON
                assert keys.poll() == []  # nothing typed: returns at once
                os.write(master, b"n\x1b[Cq")  # no Enter
                time.sleep(0.05)
                assert keys.poll() == [NEXT, NEXT, STOP]
            assert termios.tcgetattr(slave) == before
        read_end, write_end = os.pipe()
        with os.fdopen(read_end, "rb") as pipe, KeyReader(pipe) as keys:  # not a terminal: no keys
            assert not keys.active and keys.poll() == []
        os.close(write_end)
    finally:
        os.close(master)
        os.close(slave)


def test_quality_flags_name_what_went_wrong():
    t = np.arange(0, 10, 0.02)
    leader = np.zeros((len(t), 3))
    leader[:150, 0] = np.linspace(0, 1, 150)  # moves for 3 s, then still for 7 s
    assert longest_idle_s(t, leader) == pytest.approx(7.0, abs=0.05)
    cam = CameraFigures(
        frames=290, expected=300, drops=8, missed=0, rejected=2, stalls=1, stalled_at_end=False
    )
    fig = TakeFigures(
        duration_s=10, ticks=460, control_hz=50, rate_hz=46.0, period_p99_ms=40, overruns=3,
        rejected_ticks=0, idle_s=7.0, cameras={"cam_low": cam},
    )  # fmt: skip
    assert quality_flags(fig) == [
        "rate 46.0 Hz < 50 Hz",
        "3 loop overruns",
        "cam_low: stalled",
        "cam_low: frames 8 dropped, 2 refused",
        "idle 7.0 s",
    ]
    clean = TakeFigures(
        10, 500, 50, 50.0, 20.5, 0, 0, 0.5, {"cam_low": CameraFigures(300, 300, 0, 0, 0, 0, False)}
    )
    assert quality_flags(clean) == []
    # with the loop's overrun log, the flag says when the worst one was and where its time went
    clean.overruns = 2
    clean.overrun_ticks = [
        {"body_ms": 21.0, "description": "3.10 s in: 21.0 ms (bus_read 16.0)"},
        {"body_ms": 30.4, "description": "0.42 s in: 30.4 ms (bus_read 12.5, hand_off 5.9)"},
    ]
    assert quality_flags(clean) == [
        "2 loop overruns (worst 0.42 s in: 30.4 ms (bus_read 12.5, hand_off 5.9))"
    ]


class ScriptedKeys:
    """Presses each key once its condition on the session holds, in order."""

    def __init__(self, script):
        self.script = list(script)
        self.active = True

    def poll(self):
        if self.script and self.script[0][0](self.session):
            return [self.script.pop(0)[1]]
        return []


class FakeScene:
    sim = True
    scripted = False

    def __init__(self):
        self.scenes = []

    def new_scene(self, seed):
        self.scenes.append(seed)

    def start_take(self, seed):
        return None

    def outcome(self):
        return True


def run_session(tmp_path, script, **options):
    rig = synthetic_rig(cameras=())
    joints = len(rig.arms["follower"].joint_names)
    loop = SimpleNamespace(
        rig=rig,
        clock=MonotonicClock(),
        status=TeleopStatus(running=True, phase="teleop"),
        loop=RateLoop(rig.control_rate_hz),  # not ticking here: the ticks() below stand in
        noise=None,
    )
    scene, keys = FakeScene(), ScriptedKeys(script)
    dataset = Dataset.create(tmp_path / "demos.zarr", rig)
    opts = RecordOptions(task="stack", reset_s=0.1, episode_s=0.4, first_seed=5, **options)
    session = RecordSession(dataset, loop, FramePump({}), scene, opts, keys=keys)
    keys.session = session
    stop = threading.Event()

    def ticks():  # the control loop's side
        while not stop.is_set():
            t = time.monotonic()
            q = np.full(joints, np.sin(t), np.float32)
            session.on_tick(TickSample(t, q, q, q, np.zeros(joints, np.float32)))
            time.sleep(0.01)

    ticker = threading.Thread(target=ticks)
    ticker.start()
    try:
        session.run(stop)  # returns when done
    finally:
        stop.set()
        ticker.join()
        dataset.close()
    assert session.error is None, session.error
    return session, scene, Dataset.open(tmp_path / "demos.zarr")


def recording(after_ticks: int):
    return lambda s: s.phase == "recording" and s.take is not None and s.take.elapsed_ticks > after_ticks


def test_re_record_repeats_the_scene_and_discard_removes_the_saved_episode(tmp_path):
    script = [
        (recording(5), RERECORD),  # drop take 1 mid-way: same scene again
        (lambda s: s.phase == "reset" and s.saved == 1, DISCARD),  # remove the one just saved
    ]
    session, scene, ds = run_session(tmp_path, script, episodes=2)
    assert scene.scenes == [5, 5, 6, 7, 8]
    episodes = ds.episodes()
    assert list(episodes) == [1, 2]  # episode 0 was removed; its index is never reused
    assert [e["seed"] for e in episodes.values()] == [7, 8]
    assert all(e["success"] is True and e["task"] == "stack" for e in episodes.values())
    assert [s.removed for s in session.summaries] == [True, False, False]
    assert not list((ds.path / ".staging").glob("partial-*"))


def test_next_skips_the_reset_and_ends_the_take_early(tmp_path):
    script = [(lambda s: s.phase == "reset", NEXT), (recording(10), NEXT)]
    session, _, ds = run_session(tmp_path, script, episodes=1)
    (attrs,) = ds.episodes().values()
    assert attrs["stats"]["joints"]["duration_s"] < 0.35  # ended by the key, not the 0.4 s timer


def test_stop_drops_the_take_in_progress_and_keeps_the_saved_ones(tmp_path):
    script = [(lambda s: s.saved == 1 and s.phase == "recording" and s.take.elapsed_ticks > 5, STOP)]
    session, _, ds = run_session(tmp_path, script, episodes=5)
    assert list(ds.episodes()) == [0]
    assert session.phase == "done"
    assert any("dropped" in e.text for e in session.events)
    assert not list((ds.path / ".staging").glob("partial-*"))
