"""The rate loop keeps an absolute grid, skips (never bursts) after overruns, and measures itself."""

import threading
import time

import pytest

from robot_stack.clock import LockstepClock, MonotonicClock
from robot_stack.rate_loop import RateLoop


def test_ticks_fall_on_the_absolute_grid():
    clock = LockstepClock(start=10.0)
    loop = RateLoop(50, clock)
    deadlines = [tick.deadline for tick in loop.ticks(max_ticks=500)]
    assert deadlines[0] == 10.0
    # no accumulation: tick k is due at t0 + k·dt exactly, not at a sum of 500 sleeps
    assert deadlines[-1] == pytest.approx(10.0 + 499 * 0.02, abs=1e-12)
    assert loop.stats().overruns == 0


def test_overrun_skips_missed_ticks_and_never_bursts():
    clock = LockstepClock()
    loop = RateLoop(50, clock)
    starts, indices = [], []
    for tick in loop.ticks(max_ticks=6):
        starts.append(tick.start)
        indices.append(tick.index)
        if tick.index == 2:
            clock.advance(0.065)  # the body takes 65 ms: deadlines 3, 4 and 5 pass during it
    assert indices == [0, 1, 2, 6, 7, 8]
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.02 - 1e-9, "a tick started early to catch up"
    stats = loop.stats()
    assert stats.overruns == 1
    assert stats.skipped_ticks == 3


def test_body_ending_exactly_on_next_deadline_is_not_an_overrun():
    clock = LockstepClock()
    loop = RateLoop(100, clock)
    for _tick in loop.ticks(max_ticks=3):
        clock.advance(0.005)
    assert loop.stats().overruns == 0


def test_sections_are_timed_by_name():
    loop = RateLoop(200, LockstepClock())
    for _tick in loop.ticks(max_ticks=20):
        with loop.section("read"):
            time.sleep(0.001)
        with loop.section("write"):
            pass
    sections = loop.stats().sections
    assert set(sections) == {"read", "write"}
    assert sections["read"].p50_ms >= 1.0
    assert sections["write"].p50_ms < sections["read"].p50_ms


def test_an_overrun_is_logged_with_when_it_happened_and_where_its_time_went():
    clock = LockstepClock(start=5.0)
    loop = RateLoop(50, clock)
    for tick in loop.ticks(max_ticks=8):
        with loop.section("bus_read"):
            time.sleep(0.002 if tick.index == 3 else 0)
        if tick.index == 3:
            with loop.section("hand_off"):
                pass
            clock.advance(0.03)  # the body takes 30 ms
    assert loop.stats().overruns == 1
    (overrun,) = loop.overruns_since(5.0)
    assert overrun.at == pytest.approx(5.06) and overrun.body_ms == pytest.approx(30.0)
    assert set(overrun.sections) == {"bus_read", "hand_off"}  # the sections this body entered
    assert overrun.sections["bus_read"] >= 2.0
    assert overrun.describe(since=5.0).startswith("0.06 s in: 30.0 ms (bus_read ")
    assert loop.overruns_since(5.07) == []
    loop.reset_stats()
    assert loop.overruns_since(0.0) == []


def test_stop_event_ends_the_loop():
    stop = threading.Event()
    loop = RateLoop(50, LockstepClock())
    seen = 0
    for _tick in loop.ticks(stop=stop):
        seen += 1
        if seen == 7:
            stop.set()
    assert seen == 7


def test_run_stops_when_body_returns_false():
    loop = RateLoop(50, LockstepClock())
    stats = loop.run(lambda tick: tick.index < 4)
    assert stats.ticks == 5


def test_duration_limits_the_run_in_clock_time():
    loop = RateLoop(50, LockstepClock())
    assert loop.run(lambda tick: None, duration_s=1.0).ticks == 50


def test_lockstep_clock_driven_by_another_thread():
    clock = LockstepClock(auto_advance=False)
    loop = RateLoop(10, clock)
    done = threading.Event()

    def drive():
        while not done.is_set():
            clock.advance(0.05)
            time.sleep(0.001)

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    try:
        stats = loop.run(lambda tick: None, max_ticks=5)
    finally:
        done.set()
        driver.join()
    assert stats.ticks == 5
    assert clock.now() >= 0.4


def test_lockstep_clock_refuses_to_go_backwards():
    clock = LockstepClock(start=1.0)
    with pytest.raises(ValueError, match="cannot go backwards"):
        clock.advance_to(0.5)


def test_lockstep_clock_steps_the_simulation_before_time_moves():
    stepped = []
    clock = LockstepClock(step_to=stepped.append)
    RateLoop(50, clock).run(lambda tick: None, max_ticks=3)
    assert stepped == pytest.approx([0.02, 0.04])


def test_real_clock_loop_keeps_rate_and_reports_statistics():
    loop = RateLoop(100, MonotonicClock())
    stats = loop.run(lambda tick: None, duration_s=0.3)
    assert 25 <= stats.ticks <= 31
    assert stats.achieved_rate_hz == pytest.approx(100, rel=0.05)
    d = stats.to_dict()
    assert set(d["period_error"]) == {"p50_ms", "p99_ms", "max_ms"}


def test_rate_must_be_positive():
    with pytest.raises(ValueError, match="rate must be positive"):
        RateLoop(0)


def test_the_heap_stays_frozen_until_the_last_loop_ends():
    import gc

    from robot_stack.realtime import frozen_heap

    assert gc.get_freeze_count() == 0
    with frozen_heap():
        outer = gc.get_freeze_count()
        assert outer > 0  # everything alive at the start is out of the collector's sweeps
        with frozen_heap():  # a park loop inside, or a second loop alongside
            pass
        assert gc.get_freeze_count() >= outer
    assert gc.get_freeze_count() == 0


def test_the_short_gil_switch_interval_holds_until_the_last_user_leaves():
    """A simulator's physics and a control loop in one process overlap in any order; the interval
    the loop relies on must not be restored under it when the other one ends first."""
    import sys

    from robot_stack.realtime import CONTROL_SWITCH_INTERVAL_S, short_gil_switch_interval

    before = sys.getswitchinterval()
    physics, loop = short_gil_switch_interval(), short_gil_switch_interval()
    physics.__enter__()
    loop.__enter__()
    physics.__exit__(None, None, None)  # physics stops while the loop still runs
    assert sys.getswitchinterval() == pytest.approx(min(before, CONTROL_SWITCH_INTERVAL_S))
    loop.__exit__(None, None, None)
    assert sys.getswitchinterval() == pytest.approx(before)


def test_stats_sort_the_samples_outside_the_lock_each_tick_takes(monkeypatch):
    import robot_stack.rate_loop as rate_loop

    loop = RateLoop(50, LockstepClock())
    for _tick in loop.ticks(max_ticks=200):
        with loop.section("read"):
            pass
    held = []
    original = rate_loop.Percentiles.of

    def spy(values):
        held.append(loop._lock.locked())
        return original(values)

    monkeypatch.setattr(rate_loop.Percentiles, "of", spy)
    loop.stats()
    assert held and not any(held)  # a panel's refresh never keeps the next tick waiting on a sort


def test_live_stats_cover_the_last_minute_only():
    clock = LockstepClock()
    loop = RateLoop(50, clock)
    for tick in loop.ticks(max_ticks=3000 + 500):
        if tick.index < 500:
            clock.advance(0.0105)  # a slow first 10 s: half a period of work, then on time
    whole, live = loop.stats(), loop.live_stats()
    assert whole.busy.p50_ms == pytest.approx(0.0, abs=1e-6) and whole.busy.max_ms == pytest.approx(10.5)
    assert live.busy.max_ms == pytest.approx(0.0, abs=1e-6)  # the slow ticks are more than a minute ago
    assert live.ticks == whole.ticks == 3500


@pytest.mark.parametrize("added, recent, expected", [(3, 2, {1, 2}), (7, 3, {4, 5, 6}), (7, 5, {2, 3, 4, 5, 6}),
                                                     (7, None, {2, 3, 4, 5, 6}), (10, 4, {6, 7, 8, 9})])  # fmt: skip
def test_a_ring_gives_its_newest_samples_across_the_wrap(added, recent, expected):
    from robot_stack.rate_loop import SampleRing

    ring = SampleRing(5)
    for value in range(added):
        ring.add(float(value))
    assert set(ring.values(recent).tolist()) == expected
