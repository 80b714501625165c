"""What a calibration is: per joint, the map between a motor's Present Position and the joint value.

Every joint, the gripper included, maps the same way:

    value = direction * (ticks - zero_ticks) / ticks_per_unit

Revolute joints come out in radians in the frame the rig's calibration poses define (shared by
leaders and followers); the gripper comes out as 0 (closed) .. 1 (open), so `zero_ticks` is the
closed reading and `ticks_per_unit` the closed-to-open travel. `ticks` are Present Position as the
motor reports it, after the Homing Offset and Drive Mode that calibration wrote into it (recorded
here too, so a connect can check the motor still holds them).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

FORMAT = "robot_stack.calibration/1"
TICKS_PER_RAD = 4096 / (2 * math.pi)  # X-series encoders: 4096 ticks per turn


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MotorRegisters(_Model):
    """EEPROM values calibration wrote into one motor."""

    id: int
    model: str
    homing_offset: int
    drive_mode: int


class JointCalibration(_Model):
    joint: str
    kind: Literal["revolute", "gripper"]
    motor: MotorRegisters
    shadow: MotorRegisters | None = None
    zero_ticks: float
    direction: Literal[1, -1]
    ticks_per_unit: float = Field(gt=0)
    range: tuple[float, float]  # the joint values seen while calibrating (rad, or 0..1)
    # The travel crosses the encoder's 0/4095 seam: after a power cycle in part of the range the
    # motor reports one turn off. Calibration warns; the connect check catches it.
    crosses_encoder_seam: bool = False

    def value(self, ticks: float) -> float:
        return self.direction * (ticks - self.zero_ticks) / self.ticks_per_unit

    def ticks(self, value: float) -> float:
        return self.zero_ticks + self.direction * value * self.ticks_per_unit


class ArmCalibration(_Model):
    format: str = FORMAT
    rig: str
    arm: str
    role: Literal["leader", "follower"]
    created: str  # ISO 8601, local time with offset
    joints: list[JointCalibration]
    notes: list[str] = []

    @property
    def joint_names(self) -> list[str]:
        return [j.joint for j in self.joints]

    def joint(self, name: str) -> JointCalibration:
        for j in self.joints:
            if j.joint == name:
                return j
        raise KeyError(name)

    def joint_map(self) -> JointMap:
        return JointMap(self)


class JointMap:
    """Vectorised ticks ↔ joint values for one arm, in joint order."""

    def __init__(self, calibration: ArmCalibration):
        joints = calibration.joints
        self.names = [j.joint for j in joints]
        self.zero = np.array([j.zero_ticks for j in joints])
        self.scale = np.array([j.direction * j.ticks_per_unit for j in joints])
        self.lower = np.array([j.range[0] for j in joints])
        self.upper = np.array([j.range[1] for j in joints])
        self.is_gripper = np.array([j.kind == "gripper" for j in joints])

    def to_values(self, ticks) -> np.ndarray:
        return (np.asarray(ticks, dtype=np.float64) - self.zero) / self.scale

    def to_ticks(self, values) -> np.ndarray:
        return np.rint(self.zero + np.asarray(values, dtype=np.float64) * self.scale).astype(np.int64)

    def clip(self, values) -> np.ndarray:
        """Keep joint values inside the range calibration saw the joint move through."""
        return np.clip(np.asarray(values, dtype=np.float64), self.lower, self.upper)
