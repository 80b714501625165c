"""The noise `record --noise` injects on the followers' goals: its spread, smoothness, bound, mask and
its fading where the scripted operator needs steady hands."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.sim.arms import ARM_SIDES
from drivers.sim.choreography import Choreography, HumanStyle, Move
from drivers.sim.scripted_operator import ScriptedOperator
from robot_stack.app.teleop.perturbation import JointNoise, SteadySpans
from robot_stack.errors import RobotStackError


def draw(noise: JointNoise, follower: str, ticks: int) -> np.ndarray:
    return np.stack([noise.step(follower) for _ in range(ticks)])


def test_offsets_have_the_asked_spread_and_correlation_time_and_spare_the_gripper():
    mask = np.array([True] * 6 + [False])
    noise = JointNoise({"left": mask, "right": mask}, sigma_rad=0.03, time_constant_s=0.5, dt=0.02, seed=3)
    x = draw(noise, "left", 50_000)
    assert np.all(x[:, 6] == 0)
    assert np.std(x[:, :6]) == pytest.approx(0.03, rel=0.1)
    # an Ornstein–Uhlenbeck process at dt/τ = 0.04: lag-1 correlation e^-0.04, lag-25 (τ) ≈ e^-1
    a = x[:, :6]
    lag1 = np.mean(a[1:] * a[:-1]) / np.mean(a * a)
    lag25 = np.mean(a[25:] * a[:-25]) / np.mean(a * a)
    assert lag1 == pytest.approx(np.exp(-0.04), abs=0.01)
    assert lag25 == pytest.approx(np.exp(-1.0), abs=0.1)
    assert np.abs(x).max() <= 2.5 * 0.03 + 1e-12
    # per tick the offset moves by σ·√(1 - e^(-2·dt/τ)) ≈ 0.008 rad (sd): small next to the step limits
    assert np.std(np.diff(a, axis=0)) == pytest.approx(0.03 * np.sqrt(1 - np.exp(-0.08)), rel=0.1)
    assert np.any(draw(noise, "right", 10) != x[-10:])  # each follower has its own


@pytest.mark.parametrize("sigma", [0.0, -0.01, 0.25, float("nan")])
def test_a_spread_out_of_range_is_refused(sigma):
    with pytest.raises(RobotStackError, match="noise"):
        JointNoise({"a": np.ones(7, bool)}, sigma_rad=sigma, time_constant_s=0.5, dt=0.02)


def test_a_non_positive_time_is_refused():
    with pytest.raises(RobotStackError, match="noise time"):
        JointNoise({"a": np.ones(7, bool)}, sigma_rad=0.03, time_constant_s=0.0, dt=0.02)


def test_offsets_fade_to_zero_inside_steady_spans_and_back_outside():
    noise = JointNoise({"a": np.ones(7, bool)}, sigma_rad=0.03, time_constant_s=0.5, dt=0.02, seed=1)
    noise.envelope = SteadySpans([(2.0, 3.0), (5.0, 5.5)], origin=100.0, fade_s=0.4)
    times = 100.0 + np.arange(0, 7, 0.02)
    x = np.stack([noise.step("a", t) for t in times])
    rel = times - 100.0
    inside = ((rel >= 2.0) & (rel <= 3.0)) | ((rel >= 5.0) & (rel <= 5.5))
    assert np.all(x[inside] == 0)
    far = (rel < 1.5) | ((rel > 3.5) & (rel < 4.5)) | (rel > 6.0)
    assert np.abs(x[far]).mean() > 0.015  # untouched away from the spans
    assert noise.envelope(101.8) == pytest.approx(0.5) and noise.envelope(103.2) == pytest.approx(0.5)
    assert noise.envelope(104.0) == 1.0


def test_the_scripted_operator_marks_its_grasp_and_hand_over_steady():
    op = ScriptedOperator("transfer_cube", seed=4, style="steady")
    spans = op.steady_spans
    assert len(spans) == 2  # fingers closing on the cube; the hand-over through the giver backing off
    (close_start, close_end), (over_start, over_end) = spans
    grip = {
        side: np.array([op.target(side, t)[6] for t in np.arange(0, op.duration, 0.02)]) for side in ARM_SIDES
    }
    t = np.arange(0, op.duration, 0.02)
    giver = op.strategy["giver"]
    receiver = op.strategy["receiver"]
    closing = t[np.flatnonzero(np.diff(grip[giver]) < 0)]
    assert close_start <= closing.min() and closing.max() <= close_end  # the giver's grip closes inside
    handing = t[np.flatnonzero(np.diff(grip[receiver]) < 0)]
    assert over_start <= handing.min() and over_end >= op.duration - 1.0  # to the end of the script


class _TimedScript:
    """Just the timing of an arm script: what Choreography needs to lay out phases."""

    def __init__(self):
        self.end_time = 0.0

    def hold_until(self, t: float) -> None:
        self.end_time = max(self.end_time, t)

    def move(self, pose, duration, grip=None, line=False) -> None:
        self.end_time += duration


def test_steady_phases_in_a_row_make_one_span_even_when_the_operator_hesitates():
    hesitant = HumanStyle(
        tempo=1.0, duration_jitter=0.0, max_reaction_s=0.0, hesitation_p=1.0, tremor_rad=0.0
    )
    choreo = Choreography({"left": _TimedScript()}, np.random.default_rng(0), hesitant)
    choreo.phase({"left": Move(None, 0.5)}, steady=True)
    choreo.phase({"left": Move(None, 0.5)}, steady=True)  # hesitates first: still the same span
    choreo.phase({"left": Move(None, 0.5)})
    choreo.phase({"left": Move(None, 0.5)}, steady=True)
    assert choreo.hesitations == 4
    (a0, b0), (a1, b1) = choreo.steady_spans
    assert b0 - a0 > 2 * 0.5 + 0.2  # both moves and the pause between them
    assert b0 < a1 and b1 == pytest.approx(choreo.t)
