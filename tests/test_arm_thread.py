"""ArmIOThread: every arm's bus I/O on its own thread; four arms on four emulated ports."""

from __future__ import annotations

import threading
from contextlib import ExitStack

import numpy as np
import pytest

from drivers.dynamixel.arm import DynamixelArm
from drivers.dynamixel.arm_thread import ArmIOError, ArmIOThread
from drivers.dynamixel.emulated import chain_for_arm, on_port
from robot_stack.rig import load_rig


@pytest.fixture
def rig_arms(repo_root):
    """Every arm of the ALOHA example rig on its own emulated chain, opened, with its I/O thread."""
    rig = load_rig(repo_root / "examples" / "aloha.yaml")
    assert len(rig.arms) == 4
    with ExitStack() as stack:
        chains, arms, threads = {}, {}, {}
        for name, spec in rig.arms.items():
            chains[name] = stack.enter_context(chain_for_arm(spec))
            # Four emulated chains share this process's GIL with four I/O threads: their replies can
            # be late by a few switch intervals (5 ms), far later than real motors behind an adapter.
            arm = DynamixelArm(name, on_port(spec, chains[name].port_path), timeout_margin_ms=50)
            arms[name] = stack.enter_context(arm)
            threads[name] = ArmIOThread(arms[name])
            stack.callback(threads[name].stop)
            threads[name].start()
        yield chains, arms, threads


def test_four_arms_are_read_concurrently(rig_arms):
    chains, arms, threads = rig_arms
    # Each emulated chain holds its reply until all four reads are in flight at once: if the
    # arms were read one after another, the barrier would break and the reads fail.
    barrier = threading.Barrier(len(chains), timeout=5.0)
    broken = []

    def hold(_ids):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            broken.append(True)

    for name, chain in chains.items():
        chain.before_reply = hold
        arms[name].bus.port.timeout_margin_ms = 5000  # replies are held back on purpose
    tickets = {name: t.request_read() for name, t in threads.items()}
    readings = {name: threads[name].wait(ticket, timeout=10.0) for name, ticket in tickets.items()}
    for chain in chains.values():
        chain.before_reply = None
    assert not broken
    for name, reading in readings.items():
        assert reading.positions.shape == (arms[name].num_joints,)
        assert reading.seq == 1


def test_bimanual_tick_reads_all_and_writes_followers(rig_arms):
    chains, arms, threads = rig_arms
    followers = [n for n, a in arms.items() if a.role == "follower"]
    for tick in range(5):
        tickets = {name: t.request_read() for name, t in threads.items()}
        readings = {name: threads[name].wait(ticket) for name, ticket in tickets.items()}
        goals = {name: readings[name].positions + 10 * (tick + 1) for name in followers}
        done = [threads[name].submit_goal(goals[name]) for name in followers]
        for name, ticket in zip(followers, done, strict=True):
            threads[name].wait(ticket)
    for name in followers:
        threads[name].read()  # Sync Write has no reply: a read behind it shows it was executed
        spec = arms[name].spec
        goals_now = [chains[name].motor(m.id).get("goal_position") for m in spec.motors.values()]
        assert goals_now == list(goals[name])
    latest = threads[followers[0]].latest()
    assert latest is not None and latest.seq == 6


def test_an_arm_thread_error_reaches_the_caller(rig_arms):
    chains, arms, threads = rig_arms
    name = next(n for n, a in arms.items() if a.role == "leader")
    arms[name].bus.retries = 0
    elbow = arms[name].spec.motors["elbow"].id
    chains[name].faults.silent_ids.add(elbow)
    with pytest.raises(ArmIOError) as err:
        threads[name].read(timeout=30.0)
    assert f"motor {elbow} ({name}/elbow) did not answer" in err.value.message
    assert "powered" in err.value.hint
    assert not threads[name].is_running
    with pytest.raises(ArmIOError):
        threads[name].latest()
    with pytest.raises(ArmIOError):
        threads[name].submit_goal(np.zeros(arms[name].num_joints))
    others = [t for n, t in threads.items() if n != name]
    assert all(t.read().seq >= 1 for t in others)  # the other arms carry on


def test_hardware_error_is_an_event_not_a_stop(rig_arms):
    chains, arms, threads = rig_arms
    name = next(n for n, a in arms.items() if a.role == "follower")
    gripper = arms[name].spec.motors["gripper"].id
    chains[name].faults.raise_hardware_error(gripper, "overheating")
    threads[name].read()
    threads[name].read()
    events = threads[name].drain_events()
    assert len(events) == 1
    assert (events[0].joint, events[0].errors) == (f"{name}/gripper", ("overheating",))
    assert threads[name].is_running


def test_periodic_reads_keep_latest_fresh_and_stop_joins(rig_arms):
    _, arms, threads = rig_arms
    name = next(iter(arms))
    threads[name].stop()
    polled = ArmIOThread(arms[name], period_s=0.002).start()
    try:
        first = None
        while first is None or first.seq < 3:
            first = polled.latest()
        later = polled.wait(polled.request_read())
        assert later.seq > first.seq and later.t > first.t
    finally:
        polled.stop()
    assert not polled.is_running
    with pytest.raises(RuntimeError, match="not running"):
        polled.request_read()
