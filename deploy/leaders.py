"""The leader arms during deployment (HG-DAgger, DESIGN.md §6).

While the policy drives, each leader has torque on and follows its follower (goal = the follower's
measured pose, step-limited), so the operator's hands find the leader where the robot is. On a
takeover the leaders go limp and their pose becomes the followers' target, as in teleoperation: the
handover is bumpless because the leader was already there. On release the torque comes back on and
the leaders follow again.

Torque is switched from the executor's thread right after the tick's reads, when the leader's bus
thread is idle (its reading arrived this tick); a leader that was late that tick is switched on the
next one. Switching costs one bus round per motor (a few ms on the wire), once per handover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.rig_arms import RigArm
from calibration.tick_reader import BUS_HINT, BusFault
from drivers.dynamixel.arm import ArmReading
from drivers.dynamixel.errors import DynamixelError
from robot_stack.errors import RobotStackError
from robot_stack.motion import StepLimiter


@dataclass
class LeaderState:
    leader: RigArm
    follower: RigArm
    span: slice  # the follower's joints in the command vector
    max_step: np.ndarray
    limiter: StepLimiter | None = None
    torque: bool = False  # as the leader's motors have it now
    want_torque: bool = False  # as the runtime wants it


class Leaders:
    def __init__(self, pairs: list[LeaderState]):
        self.pairs = pairs

    @property
    def names(self) -> list[str]:
        return [p.leader.name for p in self.pairs]

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def want(self, torque: bool) -> None:
        for pair in self.pairs:
            pair.want_torque = torque

    @property
    def settled(self) -> bool:
        """Every leader's torque is as wanted."""
        return all(p.torque == p.want_torque for p in self.pairs)

    def sync_torque(self, readings: dict[str, ArmReading], fresh: set[str]) -> list[str]:
        """Switch torque where it differs from what is wanted (leaders whose bus is idle); the names switched."""
        switched = []
        for pair in self.pairs:
            name = pair.leader.name
            if pair.torque == pair.want_torque or name not in fresh:
                continue
            try:
                pair.leader.arm.set_torque(pair.want_torque)
            except (DynamixelError, RobotStackError) as exc:
                raise BusFault(
                    f"arm {name}: switching torque {'on' if pair.want_torque else 'off'} failed: {exc}",
                    BUS_HINT,
                    arm=name,
                ) from exc
            pair.torque = pair.want_torque
            if pair.torque:
                pose = pair.leader.map.to_values(readings[name].positions)
                pair.limiter = StepLimiter(pair.max_step, pose)
            switched.append(name)
        return switched

    def follow(self, readings: dict[str, ArmReading]) -> None:
        """Leaders with torque on: goal = their follower's measured pose, step-limited."""
        for pair in self.pairs:
            if not (pair.torque and pair.want_torque) or pair.limiter is None:
                continue
            q_follower = pair.follower.map.to_values(readings[pair.follower.name].positions)
            goal = pair.limiter(pair.leader.map.clip(q_follower))
            pair.leader.io.submit_goal(pair.leader.map.to_ticks(goal))

    def target(self, readings: dict[str, ArmReading], fallback: np.ndarray) -> np.ndarray:
        """The followers' target while the operator drives: each leader's pose (other joints: fallback)."""
        target = fallback.copy()
        for pair in self.pairs:
            target[pair.span] = pair.leader.map.to_values(readings[pair.leader.name].positions)
        return target

    def release_torque(self, timeout_s: float = 1.0) -> None:
        """At exit: every leader limp again (its bus thread first finishes what it was doing)."""
        for pair in self.pairs:
            if not pair.torque or not pair.leader.io.is_running:
                continue
            try:
                pair.leader.io.wait(pair.leader.io.request_read(), timeout=timeout_s)
                pair.leader.arm.set_torque(False)
                pair.torque = pair.want_torque = False
            except (DynamixelError, RobotStackError, TimeoutError, RuntimeError):
                pass  # a leader whose bus died stays as it is; the follower side matters here
