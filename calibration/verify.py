"""On connect: is this still the arm the calibration was made on?

Refuses, naming every mismatch, when a motor is another model (swapped), holds other offsets than the
file (recalibrated, or a motor from another arm), or reads a position calibration never saw — by
about one turn when the encoder re-read across its seam after a power cycle.
"""

from __future__ import annotations

import math

import numpy as np

from calibration.files import CalibrationError
from calibration.model import ArmCalibration, JointCalibration, MotorRegisters
from drivers.dynamixel.arm import DynamixelArm

# How far outside its calibrated range a joint may read at connect (a person moved it a little
# further than during calibration; a follower sagged).
RANGE_MARGIN_RAD = 0.35
RANGE_MARGIN_GRIPPER = 0.25


def check_arm(arm: DynamixelArm, calibration: ArmCalibration, positions: np.ndarray | None = None) -> None:
    """Raise CalibrationError listing every way the open arm differs from its calibration."""
    problems = _structure_problems(arm, calibration)
    if not problems:
        for j in calibration.joints:
            for registers in (j.motor, j.shadow):
                if registers is not None:
                    problems += _register_problems(arm, j, registers)
    if not problems:
        ticks = arm.read().positions if positions is None else positions
        values = calibration.joint_map().to_values(ticks)
        for j, value in zip(calibration.joints, values, strict=True):
            problem = _position_problem(arm.name, j, float(value))
            if problem:
                problems.append(problem)
    if problems:
        raise CalibrationError(
            f"arm {arm.name} does not match its calibration ({len(problems)} problem"
            f"{'s' if len(problems) > 1 else ''}):\n  - " + "\n  - ".join(problems),
            hint=f"put the right motors back, or re-run `robot-stack calibrate --arm {arm.name}`",
        )


def _structure_problems(arm: DynamixelArm, calibration: ArmCalibration) -> list[str]:
    if calibration.joint_names != arm.joint_names:
        return [f"the calibration has joints {calibration.joint_names}, the rig file {arm.joint_names}"]
    problems = []
    for j in calibration.joints:
        spec = arm.spec.motors[j.joint]
        if (j.motor.id, j.motor.model) != (spec.id, spec.model):
            problems.append(
                f"{j.joint}: calibrated on motor {j.motor.id} ({j.motor.model}), "
                f"the rig file has motor {spec.id} ({spec.model})"
            )
    return problems


def _register_problems(arm: DynamixelArm, j: JointCalibration, registers: MotorRegisters) -> list[str]:
    label = arm.bus.label(registers.id)
    info = arm.config_report.motors.get(registers.id) if arm.config_report else None
    if info is not None and info.model != registers.model:
        return [f"{label} is {info.model}; it was {registers.model} when calibrated — a swapped motor?"]
    problems = []
    for name in ("homing_offset", "drive_mode"):
        held = arm.bus.read(registers.id, name)
        wanted = getattr(registers, name)
        if held != wanted:
            problems.append(
                f"{label} has {name.replace('_', ' ')} {held}, the calibration wrote {wanted} — "
                "recalibrated by something else, or a motor from another arm"
            )
    return problems


def _position_problem(arm_name: str, j: JointCalibration, value: float) -> str | None:
    lo, hi = j.range
    margin = RANGE_MARGIN_GRIPPER if j.kind == "gripper" else RANGE_MARGIN_RAD
    if lo - margin <= value <= hi + margin:
        return None
    where = f"{arm_name}/{j.joint} (motor {j.motor.id})"
    if j.kind == "revolute":
        turns = next((k for k in (1, -1, 2, -2) if lo - margin <= value - k * 2 * math.pi <= hi + margin), 0)
        if turns:
            return (
                f"{where} reads {math.degrees(value):+.0f}°, {abs(turns)} full turn"
                f"{'s' if abs(turns) > 1 else ''} outside its calibrated range "
                f"[{math.degrees(lo):+.0f}°, {math.degrees(hi):+.0f}°]: a multi-turn wrap after a power cycle "
                "(the encoder re-read across its seam); move the joint back into its range and power-cycle or "
                "reboot the motor (`robot-stack motors reboot`)"
            )
        return (
            f"{where} reads {math.degrees(value):+.0f}°, outside its calibrated range "
            f"[{math.degrees(lo):+.0f}°, {math.degrees(hi):+.0f}°]"
        )
    return f"{where} reads {value:.2f} of its travel, outside 0 (closed) .. 1 (open)"
