"""Smooth arm motion the way people move: minimum-jerk profiles, sampled into a joint-space script.

Flash & Hogan's minimum-jerk model (hand paths of reaching people are near-straight with bell-shaped
speed) gives the shape of every move. Fine moves (descend onto an object, push a peg in) go in a
straight line in Cartesian space, solved by IK sample by sample; transport moves interpolate in joint
space between IK solutions, the way a relaxed arm swings, which also keeps clear of wrist singularities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivers.sim.kinematics import ArmKinematics, rotation_about, rotation_vector

SAMPLE_HZ = 100.0
# A swing takes at least long enough that no joint passes this speed (min-jerk peaks at 1.875x the
# mean): about what a relaxed operator does, and inside the deploy safety filter's per-tick step
# limit (0.05 rad at 50 Hz), so a policy that imitates these demonstrations is not clipped.
MAX_JOINT_SPEED = 2.0  # rad/s


def min_jerk(s):
    """Minimum-jerk phase: 0 → 1 with zero velocity and acceleration at both ends."""
    s = np.clip(s, 0.0, 1.0)
    return s**3 * (10.0 - 15.0 * s + 6.0 * s**2)


@dataclass(frozen=True)
class Pose:
    position: np.ndarray  # (3,) of the grasp point, world frame
    rotation: np.ndarray  # (3, 3) gripper frame: x approach, y pinch

    def shifted(self, offset) -> Pose:
        return Pose(self.position + np.asarray(offset, float), self.rotation)

    def interpolate(self, other: Pose, s: float) -> Pose:
        """Straight line and shortest rotation, at phase s in [0, 1]."""
        delta = rotation_vector(other.rotation @ self.rotation.T)
        angle = np.linalg.norm(delta)
        rot = self.rotation if angle < 1e-9 else rotation_about(delta, s * angle) @ self.rotation
        return Pose(self.position + s * (other.position - self.position), rot)


class IkFailure(Exception):
    """A pose in the script is out of reach; the planner tries another strategy."""


class ArmScript:
    """One arm's joint targets on a fixed 100 Hz grid, built move by move."""

    def __init__(self, kinematics: ArmKinematics, q_start, grip_start: float, ik_tolerance_m: float = 2e-3):
        self.kin = kinematics
        self.dt = 1.0 / SAMPLE_HZ
        self.q_rows = [np.asarray(q_start, float)[:6].copy()]
        self.grip_rows = [float(grip_start)]
        self.pose = Pose(*kinematics.fk(self.q_rows[0]))
        self.ik_tolerance_m = ik_tolerance_m
        self.worst_ik_error_m = 0.0

    @property
    def end_time(self) -> float:
        return (len(self.q_rows) - 1) * self.dt

    @property
    def q(self) -> np.ndarray:
        return self.q_rows[-1]

    def hold_until(self, t: float) -> None:
        while self.end_time < t - 1e-9:
            self.q_rows.append(self.q_rows[-1])
            self.grip_rows.append(self.grip_rows[-1])

    def solve(self, pose: Pose, q_init) -> np.ndarray:
        result = self.kin.ik(pose.position, pose.rotation, q_init)
        self.worst_ik_error_m = max(self.worst_ik_error_m, result.position_error)
        if result.position_error > self.ik_tolerance_m or result.rotation_error > 0.05:
            raise IkFailure(
                f"{self.kin.arm.side} arm cannot reach {np.round(pose.position, 3)} "
                f"(off by {result.position_error * 1000:.1f} mm, {result.rotation_error:.3f} rad)"
            )
        return result.q

    def move(self, pose: Pose | None, duration: float, grip: float | None = None, line: bool = False) -> None:
        """Go to `pose` (None: stay) in `duration` s; the gripper goes to `grip` over the same time."""
        start_pose, q0 = self.pose, self.q
        q1 = None if pose is None or line else self.solve(pose, q0)
        if q1 is not None:
            duration = max(duration, 1.875 * float(np.max(np.abs(q1 - q0))) / MAX_JOINT_SPEED)
        n = max(1, int(round(duration / self.dt)))
        phases = min_jerk(np.arange(1, n + 1) / n)
        g0 = self.grip_rows[-1]
        g1 = g0 if grip is None else float(grip)
        if pose is None:
            rows = [q0] * n
        elif line:
            rows, q = [], q0
            for s in phases:
                q = self.solve(start_pose.interpolate(pose, s), q)
                rows.append(q)
        else:
            rows = [q0 + s * (q1 - q0) for s in phases]
        self.q_rows.extend(rows)
        self.grip_rows.extend(g0 + phases * (g1 - g0))
        if pose is not None:
            self.pose = pose

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample times (N,), joint targets (N, 6) and gripper fractions (N,)."""
        q = np.array(self.q_rows)
        return np.arange(len(q)) * self.dt, q, np.array(self.grip_rows)
