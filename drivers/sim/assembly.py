"""How each simulated motor is mounted: the map between a joint's value and its raw encoder ticks.

A freshly assembled arm reports raw ticks with an arbitrary zero and direction per motor, so this
map is drawn from a seed — calibration has to discover it, as on a real arm. The sim keeps the truth
(`ArmAssembly.truth()`), which tests use to check what calibration found.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from robot_stack.rig.schema import ArmSpec

TICKS_PER_RAD = 4096 / (2 * math.pi)
# Raw travel of a gripper from fully closed to fully open (a ViperX gripper servo turns about
# 100°; a leader's handle about 60°).
GRIPPER_SPAN_TICKS = {"follower": 1150.0, "leader": 700.0}
ZERO_SPREAD_TICKS = 256  # mounting scatter of the zero around mid-range


@dataclass(frozen=True)
class MotorMount:
    joint_index: int  # position in the arm's joint vector
    is_shadow: bool
    zero_raw: float  # raw ticks at joint value 0 (gripper: fully closed)
    direction: int  # +1 or -1
    ticks_per_unit: float  # per radian, or per gripper fraction

    def raw(self, value: float) -> float:
        return self.zero_raw + self.direction * value * self.ticks_per_unit

    def value(self, raw: float) -> float:
        return (raw - self.zero_raw) / (self.direction * self.ticks_per_unit)


class ArmAssembly:
    """Every motor of one arm (shadows included), by id."""

    def __init__(self, arm_name: str, arm: ArmSpec, seed: int):
        digest = hashlib.sha256(f"{seed}/{arm_name}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        self.mounts: dict[int, MotorMount] = {}
        for index, (joint, motor) in enumerate(arm.motors.items()):
            gripper = joint == arm.gripper
            per_unit = GRIPPER_SPAN_TICKS[arm.role] if gripper else TICKS_PER_RAD
            zero = 2048.0 + float(rng.integers(-ZERO_SPREAD_TICKS, ZERO_SPREAD_TICKS + 1))
            if gripper:
                zero -= per_unit / 2  # the travel sits around mid-range
            direction = int(rng.choice([-1, 1]))
            self.mounts[motor.id] = MotorMount(index, False, zero, direction, per_unit)
            if motor.shadow is not None:
                # Mounted facing its primary: same joint, the encoder turns the other way.
                shadow_dir = -direction if motor.shadow.reverse else direction
                shadow_zero = 2048.0 + float(rng.integers(-ZERO_SPREAD_TICKS, ZERO_SPREAD_TICKS + 1))
                self.mounts[motor.shadow.id] = MotorMount(index, True, shadow_zero, shadow_dir, per_unit)
        self.joint_count = len(arm.motors)

    def primaries(self) -> dict[int, MotorMount]:
        return {i: m for i, m in self.mounts.items() if not m.is_shadow}

    def truth(self) -> dict[int, dict]:
        """The mounting of every motor, for tests that check a calibration against it."""
        return {
            motor_id: {
                "joint_index": m.joint_index,
                "zero_raw": m.zero_raw,
                "direction": m.direction,
                "ticks_per_unit": m.ticks_per_unit,
                "shadow": m.is_shadow,
            }
            for motor_id, m in self.mounts.items()
        }


class MountingMap:
    """Raw tick vectors ↔ joint vectors of a rig's arms, from how the sim mounted each motor.

    The simulator's ground truth: what calibration must discover on its own. Benchmarks and tests use
    it to drive the rig before (or to check) calibration.
    """

    def __init__(self, rig, assemblies: dict[str, ArmAssembly]):
        self._mounts = {
            name: [assemblies[name].mounts[m.id] for m in arm.motors.values()]
            for name, arm in rig.arms.items()
        }

    def values(self, arm: str, raw) -> np.ndarray:
        return np.array([m.value(r) for r, m in zip(raw, self._mounts[arm], strict=True)])

    def raw(self, arm: str, values) -> np.ndarray:
        return np.round([m.raw(v) for v, m in zip(values, self._mounts[arm], strict=True)]).astype(np.int64)
