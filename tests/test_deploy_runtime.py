"""The deploy runtime on the simulated rig in real time: a trained checkpoint drives within the limits
with telemetry flowing, the replay policy completes the task end to end, NaN chunks are refused,
and a stalled or killed planner makes the executor hold, then park."""

import threading
import time

import numpy as np
import pytest
from deploy_support import (
    QUANTUM,
    CommandLog,
    TelemetryTap,
    assert_within_limits,
    running,
    sim_bench,
    tiny_checkpoint,
    wait_until,
    write_rig,
)

from deploy.scripted_policy import ScriptedReplayPolicy
from deploy.transport import request
from robot_stack.wire import Command


def test_a_trained_checkpoint_drives_within_limits_and_telemetry_flows(tmp_path):
    checkpoint = tiny_checkpoint()
    _, rig = write_rig(tmp_path)
    logs = {}
    with sim_bench(rig) as bench, TelemetryTap(rig.deploy.telemetry_endpoint) as tap:
        settings = bench.settings(checkpoint=checkpoint, autostart=False)
        with running(bench, settings, before_start=lambda d: logs.setdefault("log", CommandLog(d))) as daemon:
            assert wait_until(lambda: tap.telemetry, 10)  # the watcher is connected: nothing is missed
            assert tap.telemetry[-1]["phase"] == "idle"
            assert daemon.executor.submit("start")[0]
            assert wait_until(lambda: daemon.executor.status()["chunks"]["accepted"] >= 20, 30)
            assert wait_until(lambda: len(tap.telemetry) >= 5, 10)
            reply = request(rig.deploy.command_endpoint, Command("status"))
            daemon.stop()
            report = daemon.join(15)
        assert_within_limits(logs["log"], rig, daemon)
    assert reply.ok and reply.data["phase"] in ("ramp", "running", "hold")
    assert reply.data["planner"]["planned"] > 0 and reply.data["daemon"]["policy"] == "act"
    assert report.phase == "stopped" and report.chunks["accepted"] >= 20
    last = tap.telemetry[-1]
    for key in ("period_ms", "overruns", "planner_latency_ms", "chunk_age_ms", "depth", "safety"):
        assert key in last
    assert any(t["depth"] >= 1 and t["chunk_age_ms"] is not None for t in tap.telemetry)
    # each policy camera's frame age next to its joints: real, bounded by a few frame periods
    ages = last["frame_age_ms"]
    assert ages and all(0.0 <= age["p50"] <= age["max"] < 500.0 for age in ages.values()), ages
    # ... and the joints sent with those frames are those of the first tick after their capture (a
    # tick skipped under load can make one gap longer; unpaired, the median is 2-3 ticks)
    gap, tick_ms = last["joints_after_frame_ms"], 1000.0 / rig.control_rate_hz
    assert 0.0 <= gap["p50"] <= tick_ms, gap
    names = tap.names()
    assert names.index("policy_drives") < names.index("park") < names.index("stopped")


def test_the_runtime_completes_the_task_with_the_replay_policy(tmp_path):
    """The scripted operator's plan as a policy, through planner, ZMQ, ensembler, safety and bus."""
    _, rig = write_rig(tmp_path)
    with sim_bench(rig, seed=2) as bench:
        policy = ScriptedReplayPolicy(rig, "transfer_cube", 2, time_origin=float("inf"))
        with running(bench, bench.settings(autostart=False), policy) as daemon:
            bench.sim.reset(2)
            policy.restart(2, time.monotonic() + rig.deploy.safety.ramp_in_s + 0.1)
            assert daemon.executor.submit("start")[0]
            assert wait_until(bench.sim.success, policy.duration + 4.0, poll_s=0.1), (
                bench.sim.scene.task_status()
            )
            status = daemon.executor.status()
    assert status["chunks"]["accepted"] > 50 and status["depth"] >= 1


class FaultyPolicy:
    """Wraps a policy: `nan_every` plants a NaN in every n-th chunk; `stall` blocks predict until cleared."""

    def __init__(self, inner, nan_every: int = 0):
        self.inner, self.nan_every = inner, nan_every
        self.spec, self.dt, self.chunk_length = inner.spec, inner.dt, inner.chunk_length
        self.supports_prefix = inner.supports_prefix
        self.calls = 0
        self.stall = threading.Event()
        self.go = threading.Event()

    def reset(self):
        self.inner.reset()

    def predict(self, observation, prefix=None, **kwargs):
        if self.stall.is_set():
            self.go.wait(30)
        self.calls += 1
        chunk = self.inner.predict(observation, prefix)
        if self.nan_every and self.calls % self.nan_every == 0:
            chunk.actions[3, 2] = np.nan
        return chunk


def test_a_nan_chunk_is_rejected_and_logged_and_nothing_non_finite_is_sent(tmp_path):
    _, rig = write_rig(tmp_path)
    logs = {}
    with sim_bench(rig) as bench, TelemetryTap(rig.deploy.telemetry_endpoint) as tap:
        policy = FaultyPolicy(
            ScriptedReplayPolicy(rig, "transfer_cube", 1, time_origin=time.monotonic() + 60), 4
        )
        with running(
            bench, bench.settings(), policy, lambda d: logs.setdefault("log", CommandLog(d))
        ) as daemon:
            assert wait_until(lambda: daemon.executor.ensembler.rejected.get("nonfinite", 0) >= 3, 20)
            assert daemon.executor.phase in ("ramp", "running")
        assert_within_limits(logs["log"], rig, daemon)
    rejected = tap.first("chunk_rejected")
    assert rejected is not None and rejected.severity == "error" and "nonfinite" in rejected.detail
    assert daemon.executor.chunks_accepted >= 3 * daemon.executor.ensembler.rejected["nonfinite"]
    assert any(t["safety"].get("chunk_rejected_nonfinite", 0) >= 1 for t in tap.telemetry)


def test_a_plan_interval_spaces_the_plans_and_each_starts_from_a_fresh_observation(tmp_path):
    _, rig = write_rig(tmp_path)
    with sim_bench(rig) as bench:
        policy = FaultyPolicy(
            ScriptedReplayPolicy(rig, "transfer_cube", 1, time_origin=time.monotonic() + 60)
        )
        with running(bench, bench.settings(plan_interval_s=0.2), policy) as daemon:
            assert daemon.executor.wait_for(("running",), 10)
            calls = policy.calls
            time.sleep(2.0)
            calls = policy.calls - calls
            status = daemon.executor.status()
    assert 7 <= calls <= 12, calls  # one plan per 0.2 s; whenever the planner is free would be ~100
    # the observation is taken when the plan is due, not queued behind the interval
    assert status["planner_latency_ms"]["p50"] < 120.0, status["planner_latency_ms"]


class RecordingPolicy(FaultyPolicy):
    """Keeps the time stamp of every observation it plans from."""

    def __init__(self, inner):
        super().__init__(inner)
        self.observed: list[float] = []

    def predict(self, observation, prefix=None, **kwargs):
        self.observed.append(observation["t"])
        return super().predict(observation, prefix, **kwargs)


def test_the_first_plan_of_an_episode_waits_for_a_frame_taken_since_it_began(tmp_path):
    """A frame from before `start` shows the scene before the reset; planning from it aimed the first
    chunks at where the last episode left the objects. A 2 fps camera makes that frame the latest at
    start nearly every time; the observation is stamped with the joints of the tick after its frame."""
    _, rig = write_rig(tmp_path, camera={"fps": 2})
    with sim_bench(rig, seed=2) as bench:
        policy = RecordingPolicy(
            ScriptedReplayPolicy(rig, "transfer_cube", 2, time_origin=time.monotonic() + 60)
        )
        with running(bench, bench.settings(autostart=False), policy) as daemon:
            time.sleep(1.2)  # frames flowing, the executor idle
            started = time.monotonic()
            assert daemon.executor.submit("start")[0]
            assert wait_until(lambda: policy.observed, 5.0)
    assert policy.observed[0] >= started, (policy.observed[0] - started, policy.observed[:3])


@pytest.mark.parametrize("how", ["stall", "kill"])
def test_a_stalled_or_killed_planner_means_hold_then_park(tmp_path, how):
    watchdog = {"hold_after_s": 0.3, "park_after_s": 1.0}
    _, rig = write_rig(tmp_path, watchdog=watchdog)
    logs = {}
    with sim_bench(rig) as bench, TelemetryTap(rig.deploy.telemetry_endpoint) as tap:
        # the plan holds the start pose for a minute: any motion after the ramp is the runtime's own
        policy = FaultyPolicy(
            ScriptedReplayPolicy(rig, "transfer_cube", 1, time_origin=time.monotonic() + 60)
        )
        with running(
            bench, bench.settings(), policy, lambda d: logs.setdefault("log", CommandLog(d))
        ) as daemon:
            assert daemon.executor.wait_for(("running",), 10)
            time.sleep(0.5)
            assert "watchdog_hold" not in tap.names()
            failed_at = time.monotonic()
            if how == "stall":
                policy.stall.set()
            else:
                daemon.planner.stop()
            assert daemon.executor.wait_for(("parked",), 10)
            policy.go.set()
            final = daemon.arms.read_values("left_follower")
        hold, park = tap.first("watchdog_hold"), tap.first("watchdog_park")
        assert hold is not None and park is not None, tap.names()
        assert failed_at < hold.t < park.t
        # within the watchdog's times (plus a chunk in flight when it failed, and a loaded machine's slack)
        assert hold.t - failed_at < watchdog["hold_after_s"] + 0.5
        assert park.t - failed_at < watchdog["park_after_s"] + 0.5
        # holding means holding: the goals between hold and park do not move
        held = logs["log"].values("left_follower", since=hold.t + 0.05, until=park.t - 0.05)
        assert len(held) > 5 and np.abs(held - held[0]).max() <= 2 * QUANTUM
        rest = np.array(rig.arms["left_follower"].rest_pose)
        assert np.abs(logs["log"].values("left_follower")[-1] - rest).max() < 0.01
        assert np.abs(final[:6] - rest[:6]).max() < 0.1  # and the arm got there
    assert "park" in tap.names() and "parked" in tap.names()
