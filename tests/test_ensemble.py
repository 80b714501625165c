"""Temporal ensembling indexed by time: which action of which chunk goes with an execution tick."""

import math

import numpy as np
import pytest

from deploy.ensemble import ChunkRejected, TemporalEnsembler

TICK = 0.02


def ramp(t0, k, dt, joints=2, slope=1.0):
    """A chunk sampled from the trajectory q(t) = slope · t (every joint), planned at t0."""
    times = t0 + np.arange(k) * dt
    return np.repeat((slope * times)[:, None], joints, axis=1).astype(np.float32)


def test_action_i_belongs_to_t0_plus_i_dt_whatever_the_arrival():
    ens = TemporalEnsembler("latest", tick_dt=TICK)
    actions = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    ens.add(actions, t0=100.0, dt=TICK)
    for i in range(10):
        assert ens.action_at(100.0 + i * TICK) == pytest.approx([i] * 3)
    # an arrival 130 ms late changes nothing: the tick at 100.14 gets action 7, the stale prefix is skipped
    assert ens.action_at(100.14) == pytest.approx([7.0] * 3)


@pytest.mark.parametrize("mode", ["ensemble", "latest", "rtc"])
def test_chunks_of_one_trajectory_agree_in_every_mode(mode):
    """Chunks planned at different times from the same underlying trajectory blend to that trajectory:
    there is no step-count offset to get wrong."""
    ens = TemporalEnsembler(mode, m=0.3, tick_dt=TICK)
    for t0 in (10.0, 10.06, 10.1, 10.17):  # irregular planner timing
        ens.add(ramp(t0, 20, TICK), t0, TICK)
    for t in np.arange(10.0, 10.38, 0.007):  # inside every chunk (past its end a chunk holds its last action)
        blend = ens.sample(float(t))
        assert blend is not None and blend.action == pytest.approx([t, t], abs=1e-4)


def test_slower_chunks_are_resampled_onto_the_execution_ticks():
    ens = TemporalEnsembler("latest", tick_dt=TICK)
    rng = np.random.default_rng(0)
    actions = rng.normal(size=(8, 4)).astype(np.float32)
    ens.add(actions, t0=5.0, dt=0.1)  # a 10 Hz diffusion chunk on a 50 Hz loop
    ticks = 5.0 + np.arange(36) * TICK
    got = np.stack([ens.action_at(float(t)) for t in ticks])
    source = 5.0 + np.arange(8) * 0.1
    want = np.stack([np.interp(ticks, source, actions[:, j]) for j in range(4)], 1)
    assert np.allclose(got, want, atol=1e-5)


def aloha_reference(chunks, m):
    """ACT's temporal_agg loop (query every step): all_time_actions[t_query, t_query + i] = chunk[i];
    at step t, the populated rows are weighted exp(-m·i), i = 0 for the oldest."""
    steps, k, joints = len(chunks), chunks[0].shape[0], chunks[0].shape[1]
    table = np.zeros((steps, steps + k, joints))
    populated = np.zeros((steps, steps + k), bool)
    out = []
    for t in range(steps):
        table[t, t : t + k] = chunks[t]
        populated[t, t : t + k] = True
        rows = table[populated[:, t], t]
        w = np.exp(-m * np.arange(len(rows)))
        out.append((rows * (w / w.sum())[:, None]).sum(0))
    return np.array(out)


@pytest.mark.parametrize("m", [0.01, 0.5, 0.0])
def test_ensemble_weights_match_act_when_queried_every_tick(m):
    rng = np.random.default_rng(1)
    chunks = [rng.normal(size=(6, 3)).astype(np.float32) for _ in range(15)]
    ens = TemporalEnsembler("ensemble", m=m, tick_dt=TICK)
    t_start, got = 42.0, []
    for step, chunk in enumerate(chunks):
        t = t_start + step * TICK
        ens.add(chunk, t0=t, dt=TICK)
        got.append(ens.action_at(t))
        ens.prune(t)
    assert np.allclose(np.array(got), aloha_reference(chunks, m), atol=1e-5)


def test_rank_counts_execution_ticks_between_captures():
    """Chunks every 5 ticks rank 0, 5, 10 — m keeps its per-tick meaning at any planner rate."""
    m = 0.1
    ens = TemporalEnsembler("ensemble", m=m, tick_dt=TICK)
    values = [1.0, 2.0, 4.0]
    for j, value in enumerate(values):
        ens.add(np.full((30, 1), value, np.float32), t0=j * 5 * TICK, dt=TICK)
    blend = ens.sample(10 * TICK)
    w = np.exp(-m * np.array([0, 5, 10]))
    w /= w.sum()
    assert blend.weights == pytest.approx(tuple(w))
    assert blend.action[0] == pytest.approx(float(np.dot(w, values)), rel=1e-5)
    assert blend.depth == 3
    assert blend.newest_age_s == pytest.approx(0.0) and blend.oldest_age_s == pytest.approx(10 * TICK)


def test_sign_of_m_chooses_old_or_new():
    def blended(m):
        ens = TemporalEnsembler("ensemble", m=m, tick_dt=TICK)
        ens.add(np.zeros((50, 1), np.float32), 0.0, TICK)
        ens.add(np.ones((50, 1), np.float32), 0.2, TICK)
        return float(ens.action_at(0.3)[0])

    assert blended(0.0) == pytest.approx(0.5)
    assert blended(0.1) < 0.5 < blended(-0.1)  # m > 0: the older chunk weighs more (ACT)
    assert blended(1000.0) == pytest.approx(0.0, abs=1e-6) and blended(-1000.0) == pytest.approx(1.0)


def test_latest_uses_the_newest_covering_chunk_only():
    ens = TemporalEnsembler("latest", tick_dt=TICK)
    ens.add(np.zeros((50, 1), np.float32), 0.0, TICK, seq=1)
    ens.add(np.ones((50, 1), np.float32), 0.2, TICK, seq=2)
    blend = ens.sample(0.25)
    assert blend.action[0] == 1.0 and blend.depth == 1 and blend.newest_seq == 2
    assert blend.newest_age_s == pytest.approx(0.05)
    assert ens.depth_at(0.25) == 1
    # before the newer chunk's capture time only the older one covers the tick
    assert ens.action_at(0.1)[0] == 0.0
    ens.mode = "ensemble"
    assert ens.depth_at(0.25) == 2


def test_coverage_ends_half_a_tick_past_the_last_action():
    ens = TemporalEnsembler("latest", tick_dt=TICK)
    ens.add(ramp(1.0, 5, TICK), 1.0, TICK)  # actions for 1.00 … 1.08
    assert ens.horizon_end == pytest.approx(1.08)
    assert ens.action_at(1.08 + 0.009)[0] == pytest.approx(1.08)  # clamped to the last action
    assert ens.action_at(1.08 + 0.011) is None
    assert ens.action_at(1.0 - 1e-6) is None  # nothing is planned for before its observation
    assert ens.sample(0.5) is None


@pytest.mark.parametrize(
    "actions, t0, dt, reason",
    [
        (np.array([[0.0, np.nan]]), 1.0, TICK, "nonfinite"),
        (np.array([[0.0, 1.0], [np.inf, 0.0]]), 1.0, TICK, "nonfinite"),
        (np.array([[0.0, -np.inf]], np.float64), 1.0, TICK, "nonfinite"),
        (np.array([1e39, 0.0])[None], 1.0, TICK, "nonfinite"),  # overflows float32
        (np.zeros((0, 2)), 1.0, TICK, "shape"),
        (np.zeros(2), 1.0, TICK, "shape"),
        (np.zeros((3, 5)), 1.0, TICK, "shape"),  # the plan has 2 joints
        ([["a", "b"]], 1.0, TICK, "shape"),
        (np.zeros((3, 2)), 1.0, 0.0, "dt"),
        (np.zeros((3, 2)), 1.0, math.nan, "dt"),
        (np.zeros((3, 2)), math.inf, TICK, "t0"),
    ],
)
def test_bad_chunks_are_rejected_at_add_time(actions, t0, dt, reason):
    ens = TemporalEnsembler("ensemble", tick_dt=TICK)
    ens.add(np.zeros((10, 2), np.float32), 1.0, TICK)
    with pytest.raises(ChunkRejected) as caught:
        with np.errstate(over="ignore"):
            ens.add(actions, t0, dt)
    assert caught.value.reason == reason
    assert ens.rejected == {reason: 1} and ens.added == 1 and len(ens.chunks) == 1
    assert np.array_equal(ens.action_at(1.0), [0.0, 0.0])


def test_held_chunks_are_private_copies():
    ens = TemporalEnsembler("latest", tick_dt=TICK)
    actions = np.zeros((4, 2), np.float32)
    ens.add(actions, 0.0, TICK)
    actions[:] = 7.0
    assert np.array_equal(ens.action_at(0.02), [0.0, 0.0])
    with pytest.raises(ValueError):
        ens.chunks[0].actions[0, 0] = 1.0


def test_add_chunk_takes_wire_and_policy_chunks():
    from robot_stack.wire import ChunkMessage

    class PolicyChunk:  # policies.ActionChunk's fields
        actions, t_obs, dt = np.ones((3, 2), np.float32), 2.0, 0.1

    ens = TemporalEnsembler("latest", tick_dt=TICK)
    assert ens.add_chunk(PolicyChunk()).t0 == 2.0
    held = ens.add_chunk(ChunkMessage(np.zeros((3, 2), np.float32), t0=2.1, dt=0.1, seq=9))
    assert held.seq == 9 and ens.newest is held


def test_prune_and_max_chunks():
    ens = TemporalEnsembler("ensemble", tick_dt=TICK, max_chunks=3)
    for i in range(5):
        ens.add(np.zeros((5, 1), np.float32), i * TICK, TICK)
    assert [c.t0 for c in ens.chunks] == pytest.approx([2 * TICK, 3 * TICK, 4 * TICK])
    assert ens.prune(7.6 * TICK) == 2  # ends at 6, 7, 8 ticks (+ half a tick): the last one stays
    assert len(ens.chunks) == 1
    latest = TemporalEnsembler("latest", tick_dt=TICK)
    latest.add(np.zeros((50, 1), np.float32), 0.0, TICK)
    latest.add(np.zeros((50, 1), np.float32), 0.1, TICK)
    assert latest.prune(0.05) == 0 and latest.prune(0.1) == 1  # superseded once the newer one covers
    latest.clear()
    assert latest.sample(0.2) is None and latest.stats()["added"] == 2


def test_chunks_are_ordered_by_capture_time_not_arrival():
    ens = TemporalEnsembler("latest", tick_dt=TICK)
    ens.add(np.ones((50, 1), np.float32), 0.2, TICK)
    ens.add(np.zeros((50, 1), np.float32), 0.0, TICK)  # arrives later, planned earlier
    assert ens.action_at(0.3)[0] == 1.0 and ens.newest.t0 == 0.2


def test_rtc_committed_actions_are_what_the_plan_runs_during_the_next_inference():
    ens = TemporalEnsembler("rtc", tick_dt=TICK)
    ens.add(ramp(10.0, 8, 0.1), 10.0, 0.1)  # plan covers 10.0 … 10.7
    prefix = ens.committed(t_obs=10.23, delay_s=0.25, dt=0.1)  # ceil(2.5) = 3 steps
    assert prefix.shape == (3, 2)
    assert prefix[:, 0] == pytest.approx([10.23, 10.33, 10.43], abs=1e-5)
    assert len(ens.committed(10.23, 0.25, 0.1, max_steps=2)) == 2
    assert len(ens.committed(10.23, 0.0, 0.1)) == 0
    assert len(ens.committed(10.55, 0.5, 0.1)) == 2  # the plan runs out at 10.7 (+ half a tick)
    assert ens.plan(11.0, 4, 0.1).shape == (0, 2)
    assert ens.plan(10.0, 100, 0.1).shape == (8, 2)


def test_constructor_refuses_nonsense():
    with pytest.raises(ValueError, match="mode"):
        TemporalEnsembler("average")
    with pytest.raises(ValueError):
        TemporalEnsembler(tick_dt=0.0)
    with pytest.raises(ValueError):
        TemporalEnsembler(m=math.nan)


def run_latest(ens, arrivals, ticks):
    """The executor's order per tick: take what arrived by then, sample, prune. Returns (seq, action) per tick."""
    out, pending = [], sorted(arrivals, key=lambda a: a[0])
    for t in ticks:
        while pending and pending[0][0] <= t + 1e-12:
            _, actions, t0, seq = pending.pop(0)
            ens.add(actions, t0, TICK, seq=seq)
        blend = ens.sample(t)
        ens.prune(t)
        out.append(
            (None if blend is None else blend.newest_seq, None if blend is None else float(blend.action[0]))
        )
    return out


def test_latest_with_an_execute_horizon_runs_a_chunk_before_switching():
    """A chunk every 40 ms, each arriving 40 ms after its capture: without a horizon the command
    switches chunk at every arrival; with execute_s = 0.2 s a chunk runs 10 ticks, then the newest
    one takes over, its stale prefix skipped (action for the tick's time, not its first)."""
    arrivals = [(t0 + 0.04, np.full((50, 1), float(k), np.float32) + ramp(t0, 50, TICK, 1), t0, k)
                for k, t0 in enumerate(np.arange(0.0, 1.0, 0.04))]  # fmt: skip
    ticks = [0.04 + i * TICK for i in range(40)]
    switching = run_latest(TemporalEnsembler("latest", tick_dt=TICK), arrivals, ticks)
    assert len({seq for seq, _ in switching}) >= 18
    held = run_latest(TemporalEnsembler("latest", tick_dt=TICK, execute_s=0.2), arrivals, ticks)
    seqs = [seq for seq, _ in held]
    assert seqs[:10] == [0] * 10  # chunk 0 runs from 0.04 s for 0.2 s, though 5 newer ones arrived
    assert seqs[10] == 5 and seqs[10:20] == [5] * 10  # then the newest (captured at 0.20 s) for 0.2 s
    t, (seq, action) = ticks[10], held[10]
    assert action == pytest.approx(seq + t, abs=1e-5)  # its action for 0.24 s, not for its capture time
    assert seqs[20] == 10


def test_execute_horizon_gives_way_when_the_running_chunk_runs_out():
    ens = TemporalEnsembler("latest", tick_dt=TICK, execute_s=5.0)
    arrivals = [(0.0, np.zeros((5, 1), np.float32), 0.0, 1), (0.02, np.ones((50, 1), np.float32), 0.02, 2)]
    seqs = [seq for seq, _ in run_latest(ens, arrivals, [i * TICK for i in range(10)])]
    assert seqs == [1] * 5 + [2] * 5  # chunk 1 ends at 0.08 s (+ half a tick): chunk 2 takes over
    ens.clear()
    assert ens.sample(0.3) is None
    ens.add(np.full((50, 1), 3.0, np.float32), 0.3, TICK, seq=3)
    assert ens.sample(0.3).newest_seq == 3  # a clear forgets the running chunk


def test_execute_horizon_is_checked():
    with pytest.raises(ValueError, match="latest"):
        TemporalEnsembler("ensemble", execute_s=0.5)
    with pytest.raises(ValueError, match="execute_s"):
        TemporalEnsembler("latest", execute_s=-1.0)
    with pytest.raises(ValueError, match="execute_s"):
        TemporalEnsembler("latest", execute_s=math.nan)


def _commands_from_a_slow_planner(fade_s):
    """A 300 ms planner: a 1 s chunk every 19 ticks, arriving 19 ticks after its capture, each 0.2 rad
    from the one before (constant chunks, so every change of the blend is a chunk entering or
    leaving); the executor's order per tick: take what arrived, sample, prune."""
    ens = TemporalEnsembler("ensemble", m=0.01, tick_dt=TICK, fade_s=fade_s)
    commands = []
    for tick in range(8 * 19):
        t = tick * TICK
        if tick % 19 == 0:
            k = tick // 19
            ens.add(np.full((50, 2), 0.2 * k, np.float32), t0=t - 19 * TICK, dt=TICK, arrived=t)
        commands.append(ens.action_at(t))
        ens.prune(t)
    return np.array(commands[19:])  # from the first arrival on


def test_a_fade_spreads_a_chunks_arrival_and_expiry_over_several_ticks():
    plain, faded = _commands_from_a_slow_planner(0.0), _commands_from_a_slow_planner(0.1)
    # two or three chunks share a tick: without the fade each arrival or expiry moves the blend by
    # a third or a half of 0.2 rad in one tick
    plain_step, faded_step = (np.abs(np.diff(c, axis=0)).max() for c in (plain, faded))
    assert plain_step > 0.06
    assert faded_step < 0.5 * plain_step, (faded_step, plain_step)
    # the same plans, followed as closely: the fade delays, it does not lose the newer plans
    assert np.abs(faded[-1] - plain[-1]).max() < 0.05


def test_a_fade_never_leaves_a_tick_without_a_command():
    ens = TemporalEnsembler("ensemble", tick_dt=TICK, fade_s=0.1)
    ens.add(np.ones((5, 2), np.float32), t0=0.0, dt=TICK, arrived=0.0)  # at its arrival its presence is 0
    assert ens.action_at(0.0) == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError, match="fade_s applies to the ensemble mode"):
        TemporalEnsembler("latest", fade_s=0.1)
    with pytest.raises(ValueError, match="fade_s must be"):
        TemporalEnsembler("ensemble", fade_s=-1.0)
