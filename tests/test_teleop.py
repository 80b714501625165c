"""Teleoperation on the simulated rig: calibrated arms, the real driver and bus threads, real time."""

import contextlib
import threading
import time

import numpy as np
import pytest

from calibration.guides import AutoGuide
from calibration.procedure import calibrate_arm
from calibration.rig_arms import RigArms
from calibration.tick_reader import READ_CUTOFF, BusFault, TickReader
from drivers.dynamixel.arm import DynamixelArm
from drivers.sim.rig import SimRig
from drivers.sim.task_base import HOME
from robot_stack.app.teleop.loop import TeleopFault, TeleopLoop, TeleopRefused

# Tests not about a silent bus give the emulated one more slack than a real bus gets, so a busy
# machine (the pty layer runs in ordinary kernel threads) cannot stop them.
SLACK_S = 0.5


@pytest.fixture
def sim_and_calibrations(sim_rig_spec):
    rig = sim_rig_spec
    with SimRig(rig, realtime=True, operator=False, seed=1) as sim:
        calibrations = {}
        for name in rig.arms:
            with DynamixelArm.from_rig(rig, name, torque=False) as arm:
                calibrations[name] = calibrate_arm(arm, AutoGuide(sim), rig.name)
        for name in rig.arms:
            sim.pose_arm(name, None)
        with DynamixelArm.from_rig(rig, "left_follower"), DynamixelArm.from_rig(rig, "right_follower"):
            pass  # followers hold where they are (calibration left their torque off)
        sim.reset(1)
        yield rig, sim, calibrations


def run_in_thread(loop, stop, **kwargs):
    outcome = {}

    def body():
        try:
            outcome["stats"] = loop.run(stop, **kwargs)
        except BaseException as exc:  # noqa: BLE001
            outcome["error"] = exc

    thread = threading.Thread(target=body)
    thread.start()
    return thread, outcome


def test_scripted_teleop_completes_the_task_with_small_tracking_error(sim_and_calibrations):
    rig, sim, calibrations = sim_and_calibrations
    errors = []
    with RigArms(rig, calibrations) as arms:
        loop = TeleopLoop(rig, arms, ramp_in_s=0.5, bus_deadline_s=SLACK_S)
        sim.reset(1)
        sim.set_operator(True)
        duration = sim.operator.duration + 1.0

        def on_tick(sample):
            if sample.t - loop.pairs[0].ramp.t0 > 0.6:
                per_joint = np.abs(sample.leader - sample.observation).reshape(2, 7)[:, :6]
                errors.append(per_joint)

        stats = loop.run(threading.Event(), duration_s=duration, on_tick=on_tick, park=False)
        assert sim.success(), "the followers, driven through teleop, should complete transfer_cube"
    errors = np.array(errors)
    assert stats.ticks > 0.9 * duration * rig.control_rate_hz
    assert np.median(errors) < 0.03  # rad: the follower sits on its leader
    assert np.percentile(errors, 95) < 0.12  # fast moves lag by a tick or two at most
    assert loop.latency_percentiles()["p50_ms"] > 0  # measured (the figures are bench/teleop.py's)


def test_ramp_in_moves_the_follower_gradually_onto_its_leader(sim_and_calibrations):
    rig, sim, calibrations = sim_and_calibrations
    target = HOME.copy()
    target[[0, 2]] += [0.4, -0.35]  # within max_start_error_rad (0.6), farther than a few steps
    sim.pose_arm("left_leader", target)
    commands = []
    with RigArms(rig, calibrations) as arms:
        loop = TeleopLoop(rig, arms, ramp_in_s=1.0, bus_deadline_s=SLACK_S)
        loop.run(
            threading.Event(),
            duration_s=2.0,
            on_tick=lambda s: commands.append(s.action[:7].copy()),
            park=False,
        )
        final = arms.read_values("left_follower")
    commands = np.array(commands)
    steps = np.abs(np.diff(commands, axis=0))
    assert steps[:, :6].max() <= rig.deploy.safety.max_step_rad + 1e-9
    assert np.abs(commands[0, :6] - HOME[:6]).max() < 0.02  # starts where the follower is
    assert np.abs(commands[25, [0, 2]] - HOME[[0, 2]]).min() > 0.05  # half-way through the ramp: moving
    np.testing.assert_allclose(final[[0, 2]], target[[0, 2]], atol=0.03)


def test_refuses_to_start_when_a_leader_is_too_far(sim_and_calibrations):
    rig, sim, calibrations = sim_and_calibrations
    target = HOME.copy()
    target[2] -= 0.9  # elbow
    sim.pose_arm("right_leader", target)
    with RigArms(rig, calibrations) as arms:
        loop = TeleopLoop(rig, arms)
        with pytest.raises(
            TeleopRefused, match=r"right_follower/elbow is 0\.9\d rad \(5\d°\) from right_leader"
        ):
            loop.start()


def test_a_silent_motor_stops_the_loop_within_100_ms_naming_it(sim_and_calibrations):
    rig, sim, calibrations = sim_and_calibrations
    sim.set_operator(True)
    with RigArms(rig, calibrations) as arms:
        loop = TeleopLoop(rig, arms, ramp_in_s=0.2)
        stop = threading.Event()
        thread, outcome = run_in_thread(loop, stop, duration_s=10)
        time.sleep(1.0)
        silenced_at = time.monotonic()
        sim.chains["left_follower"].faults.silent_ids.add(4)
        thread.join(15)
        assert isinstance(outcome.get("error"), TeleopFault)
        message = outcome["error"].message
        assert "motor 4 (left_follower/elbow)" in message
        # The loop stopped commanding within 100 ms; naming the motor may take the bus's retries longer.
        assert loop.stopped_ticking_at - silenced_at < 0.1, loop.stopped_ticking_at - silenced_at


def test_an_arm_slower_than_the_read_cutoff_still_delivers_a_tick_late(sim_and_calibrations):
    """Replies that always take longer than the cut-off (but less than a tick) are used at the next
    tick: the arm never counts as silent, and no reading is more than about two ticks old."""
    rig, sim, calibrations = sim_and_calibrations
    rate_hz = 50.0
    with RigArms(rig, calibrations, names=["left_follower"]) as arms:
        reader = TickReader(arms, ["left_follower"], rate_hz)
        reader.prime()
        sim.chains["left_follower"].faults.extra_latency_s = (READ_CUTOFF + 0.2) / rate_hz
        seqs, ages = [], []
        tick = time.monotonic()
        for _ in range(100):
            tick += 1.0 / rate_hz
            time.sleep(max(0.0, tick - time.monotonic()))
            reading = reader.read()["left_follower"]
            seqs.append(reading.seq)
            ages.append(time.monotonic() - reading.t)
    assert reader.late_ticks > 50  # the cut-off was missed, so the late path is what delivered
    assert len(set(seqs)) > 70, len(set(seqs))
    assert np.percentile(ages, 90) < 2.5 / rate_hz, np.percentile(ages, 90)


def test_an_arm_a_tick_late_when_another_fails_still_counts_as_working_for_the_park(sim_and_calibrations):
    """After a fault the followers whose bus works are parked. One whose last reading missed the
    cut-off is asked once more (a loaded machine makes that common), not left where it stopped."""
    rig, sim, calibrations = sim_and_calibrations
    rate_hz = 50.0
    names = ["left_follower", "right_follower"]
    with RigArms(rig, calibrations, names=names) as arms:
        reader = TickReader(arms, names, rate_hz)
        reader.prime()
        sim.chains["right_follower"].faults.extra_latency_s = (READ_CUTOFF + 0.2) / rate_hz
        reader.read()  # the right arm misses this tick's cut-off
        assert reader.late_ticks >= 1
        sim.chains["left_follower"].faults.silent_ids.add(4)
        assert reader.still_working(names, broken="left_follower") == ["right_follower"]
        # a late arm that does not answer either is not driven
        sim.chains["right_follower"].faults.silent_ids.add(4)
        with contextlib.suppress(BusFault):  # on a slow machine this read may already call it silent
            reader.read()
        assert reader.still_working(names, broken="left_follower") == []


def test_an_overload_stops_the_loop_naming_arm_joint_and_motor(sim_and_calibrations):
    rig, sim, calibrations = sim_and_calibrations
    sim.set_operator(True)
    with RigArms(rig, calibrations) as arms:
        loop = TeleopLoop(rig, arms, ramp_in_s=0.2)
        stop = threading.Event()
        thread, outcome = run_in_thread(loop, stop, duration_s=10)
        time.sleep(1.0)
        raised_at = time.monotonic()
        sim.chains["right_follower"].faults.raise_hardware_error(9, "overload")
        thread.join(15)
        error = outcome.get("error")
        assert isinstance(error, TeleopFault)
        assert "motor 9 (right_follower/gripper)" in error.message and "overload" in error.message
        assert loop.stopped_ticking_at - raised_at < 0.1


def test_stop_parks_the_followers_at_their_rest_pose(sim_and_calibrations):
    rig, sim, calibrations = sim_and_calibrations
    sim.set_operator(True)
    with RigArms(rig, calibrations) as arms:
        loop = TeleopLoop(rig, arms, ramp_in_s=0.2, bus_deadline_s=SLACK_S)
        stop = threading.Event()
        thread, outcome = run_in_thread(loop, stop, duration_s=30)
        time.sleep(3.0)  # the operator has moved the arms away from home
        moved = arms.read_values("right_follower")  # the right arm reaches for the cube first
        stop.set()
        thread.join(15)
        assert "error" not in outcome
        rest = np.array(rig.arms["right_follower"].rest_pose)
        assert np.abs(moved[:6] - rest[:6]).max() > 0.1
        for follower in ("left_follower", "right_follower"):
            np.testing.assert_allclose(arms.read_values(follower)[:6], rest[:6], atol=0.05)
    assert loop.status.phase == "stopped"
