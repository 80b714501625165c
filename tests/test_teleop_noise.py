"""The noise `record --noise` injects on the followers' goals: its spread, smoothness, bound and mask."""

from __future__ import annotations

import numpy as np
import pytest

from robot_stack.app.teleop.perturbation import JointNoise
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
