"""Safe motion of follower arms, in joint units (radians, gripper 0..1): the arithmetic that teleop,
replay and the deploy runtime share, so each applies the same limits the same way.

- `StepLimiter`: no joint moves more than its per-tick step from the last command.
- `Ramp`: at start, blend from where the follower is to where it is told to go.
- `start_gaps`: joints too far from their target to start safely.
- `Park`: a slow, smooth move to the rest pose at stop.
- `first_non_finite`: a command with NaN or inf is refused, never sent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robot_stack.rig.schema import ArmSpec, SafetySpec


def step_sizes(arm: ArmSpec, safety: SafetySpec) -> np.ndarray:
    """Per-joint limit on the change of command per tick, in the arm's joint order."""
    return np.array(
        [safety.max_gripper_step if joint == arm.gripper else safety.max_step_rad for joint in arm.motors]
    )


class StepLimiter:
    def __init__(self, max_step: np.ndarray, start: np.ndarray):
        self.max_step = np.asarray(max_step, dtype=np.float64)
        self.last = np.asarray(start, dtype=np.float64).copy()
        self.limited_ticks = 0  # ticks on which some joint was held back

    def __call__(self, target: np.ndarray) -> np.ndarray:
        step = np.clip(target - self.last, -self.max_step, self.max_step)
        if np.any(step != target - self.last):
            self.limited_ticks += 1
        self.last = self.last + step
        return self.last.copy()

    def reset(self, position: np.ndarray) -> None:
        self.last = np.asarray(position, dtype=np.float64).copy()


def smoothstep(s: float) -> float:
    """0 → 1 with zero velocity and acceleration at both ends (minimum-jerk profile)."""
    s = min(max(s, 0.0), 1.0)
    return s * s * s * (10 - 15 * s + 6 * s * s)


class Ramp:
    """Blend from `start` toward a moving target over `duration_s`."""

    def __init__(self, start: np.ndarray, t0: float, duration_s: float):
        self.start = np.asarray(start, dtype=np.float64).copy()
        self.t0 = t0
        self.duration_s = duration_s

    def done(self, t: float) -> bool:
        return self.duration_s <= 0 or t - self.t0 >= self.duration_s

    def __call__(self, target: np.ndarray, t: float) -> np.ndarray:
        if self.done(t):
            return target
        w = smoothstep((t - self.t0) / self.duration_s)
        return self.start + w * (np.asarray(target) - self.start)


@dataclass(frozen=True)
class Gap:
    joint: str
    distance: float  # |target - current|


def start_gaps(
    names: list[str], current: np.ndarray, target: np.ndarray, tolerance: float, skip: str | None = None
) -> list[Gap]:
    """Joints (the gripper `skip`ped: it cannot hurt anyone) farther than `tolerance` from the target."""
    gaps = []
    for name, a, b in zip(names, current, target, strict=True):
        if name != skip and abs(b - a) > tolerance:
            gaps.append(Gap(name, float(abs(b - a))))
    return gaps


class Park:
    """From `start` to `rest` along a minimum-jerk path lasting `duration_s`."""

    def __init__(self, start: np.ndarray, rest: np.ndarray, t0: float, duration_s: float):
        self.start = np.asarray(start, dtype=np.float64).copy()
        self.rest = np.asarray(rest, dtype=np.float64).copy()
        self.t0 = t0
        self.duration_s = duration_s

    def done(self, t: float) -> bool:
        return t - self.t0 >= self.duration_s

    def __call__(self, t: float) -> np.ndarray:
        w = smoothstep((t - self.t0) / self.duration_s) if self.duration_s > 0 else 1.0
        return self.start + w * (self.rest - self.start)


def first_non_finite(values: np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.isfinite(values))
    return int(bad[0]) if bad.size else None
