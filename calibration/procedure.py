"""The calibration procedure for one arm, independent of who moves it (a person, or the sim's hand).

1. Homing Offset and Drive Mode go back to neutral, so the motors report their encoders as they are.
2. The arm is put in the zero pose, then the rotated pose (the rig file's calibration poses): the
   encoder change per joint gives its direction, and must match the angle turned.
3. Gripper closed, then open: its 0..1 travel.
4. Every joint through its full range: the range, and whether it crosses the encoder seam.
5. Drive Mode and Homing Offset are written so every motor reports 2048 + angle·4096/2π (a gripper:
   its travel centred on 2048) — shadows the same as their primary, which is what lets a shadow obey
   its primary's goals. The file records it all.
6. Back in the rotated pose, the arm must read the rotated pose.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from calibration.files import CalibrationError
from calibration.model import TICKS_PER_RAD, ArmCalibration, JointCalibration, MotorRegisters
from drivers.dynamixel.arm import DynamixelArm
from drivers.dynamixel.configure import REVERSE_BIT

CENTER = 2048
ENCODER_TICKS = 4096
SCALE_TOLERANCE = 0.15  # measured ticks per radian within 15 % of the encoder's
MIN_GRIPPER_TRAVEL = 100  # ticks between closed and open
CHECK_TOLERANCE_RAD = 0.03


class Guide(Protocol):
    """Whoever moves the arm. `place` returns once the arm is in the pose; `sweep` calls `sample`
    repeatedly while every joint goes through its range, and returns when done."""

    def place(
        self, arm: str, step: str, instruction: str, pose: np.ndarray, targets: list[tuple[str, str]]
    ) -> None: ...

    def sweep(self, arm: str, instruction: str, sample: Callable[[], np.ndarray]) -> None: ...

    def done(self, arm: str) -> None: ...


@dataclass(frozen=True)
class _Motor:
    joint: str
    index: int  # joint index
    id: int
    model: str
    shadow_of: int | None  # primary id, for a shadow


def reference_poses(arm: DynamixelArm) -> tuple[np.ndarray, np.ndarray]:
    spec = arm.spec
    moving = [j for j in spec.motors if j != spec.gripper]
    zero = spec.calibration_poses.zero or [0.0] * len(moving)
    rotated = spec.calibration_poses.rotated or [math.pi / 2] * len(moving)
    return np.array(zero, dtype=np.float64), np.array(rotated, dtype=np.float64)


def calibrate_arm(arm: DynamixelArm, guide: Guide, rig_name: str, samples: int = 5) -> ArmCalibration:
    """Run the procedure on an open arm (torque off) and return its calibration; nothing is saved."""
    spec = arm.spec
    motors = _motors_of(arm)
    ids = [m.id for m in motors]
    reader = arm.bus.group_reader(ids, ["present_position"])

    def read() -> np.ndarray:
        return np.mean([reader.read()[0][:, 0] for _ in range(samples)], axis=0)

    arm.set_torque(False)
    _write_all(arm, motors, "homing_offset", {m.id: 0 for m in motors})
    _write_all(
        arm, motors, "drive_mode", {m.id: arm.bus.read(m.id, "drive_mode") & ~REVERSE_BIT for m in motors}
    )

    zero_q, rotated_q = reference_poses(arm)
    gripper_index = spec.joint_names.index(spec.gripper) if spec.gripper else None
    moving_index = [i for i in range(len(spec.motors)) if i != gripper_index]

    def full_pose(q_moving: np.ndarray, gripper: float = 0.0) -> np.ndarray:
        q = np.zeros(len(spec.motors))
        q[moving_index] = q_moving
        if gripper_index is not None:
            q[gripper_index] = gripper
        return q

    _place(guide, arm, "zero", "the zero pose", full_pose(zero_q))
    at_zero = read()
    _place(guide, arm, "rotated", "the rotated pose", full_pose(rotated_q))
    at_rotated = read()
    closed = opened = None
    if gripper_index is not None:
        _place(guide, arm, "gripper_closed", "gripper fully closed", full_pose(zero_q, 0.0))
        closed = read()
        _place(guide, arm, "gripper_open", "gripper fully open", full_pose(zero_q, 1.0))
        opened = read()

    lo, hi = at_zero.copy(), at_zero.copy()

    def sample() -> np.ndarray:
        now = reader.read()[0][:, 0].astype(np.float64)
        np.minimum(lo, now, out=lo)
        np.maximum(hi, now, out=hi)
        return now

    guide.sweep(arm.name, "every joint through its full range, gripper open to closed", sample)

    # direction (+1: ticks grow with the joint value) and the neutral-frame map of each motor
    neutral: dict[int, tuple[int, float, float]] = {}  # id -> (direction, zero ticks, ticks per unit)
    for k, m in enumerate(motors):
        if m.index == gripper_index:
            travel = opened[k] - closed[k]
            if abs(travel) < MIN_GRIPPER_TRAVEL:
                raise CalibrationError(
                    f"{arm.name}/{m.joint} (motor {m.id}) moved only {abs(travel):.0f} ticks between closed and open",
                    hint="close the gripper fully, then open it fully, when asked",
                )
            neutral[m.id] = (1 if travel > 0 else -1, closed[k], abs(travel))
            continue
        j = moving_index.index(m.index)
        turned = rotated_q[j] - zero_q[j]
        delta = at_rotated[k] - at_zero[k]
        expected = abs(turned) * TICKS_PER_RAD
        if abs(abs(delta) - expected) > SCALE_TOLERANCE * expected:
            raise CalibrationError(
                f"{arm.name}/{m.joint} (motor {m.id}) turned {math.degrees(abs(delta) / TICKS_PER_RAD):.0f}° "
                f"between the zero and rotated poses; the poses are {math.degrees(abs(turned)):.0f}° apart",
                hint="put every joint exactly in each pose (check the pictures in docs/calibration.md), "
                "and check the rig file's calibration_poses",
            )
        direction = 1 if delta * turned > 0 else -1
        neutral[m.id] = (direction, at_zero[k] - direction * zero_q[j] * TICKS_PER_RAD, TICKS_PER_RAD)

    _check_shadows(arm, motors, neutral)
    # Step 5 needs the arm still: the offsets are computed from readings before and after the
    # Drive Mode write (which re-reads the encoders).
    _place(guide, arm, "hold", "the zero pose, held still while the motors are written", full_pose(zero_q))
    here = read()
    values_here = {
        m.id: (here[k] - neutral[m.id][1]) / (neutral[m.id][0] * neutral[m.id][2])
        for k, m in enumerate(motors)
    }
    ranges = {
        m.id: tuple(
            sorted(
                (
                    (lo[k] - neutral[m.id][1]) / (neutral[m.id][0] * neutral[m.id][2]),
                    (hi[k] - neutral[m.id][1]) / (neutral[m.id][0] * neutral[m.id][2]),
                )
            )
        )
        for k, m in enumerate(motors)
    }

    # Step 5: make every motor report the shared frame itself.
    _write_all(
        arm,
        motors,
        "drive_mode",
        {
            m.id: (arm.bus.read(m.id, "drive_mode") & ~REVERSE_BIT)
            | (REVERSE_BIT if neutral[m.id][0] < 0 else 0)
            for m in motors
        },
    )
    after_drive = read()
    offsets: dict[int, int] = {}
    frames: dict[int, tuple[float, float]] = {}  # id -> (zero ticks, ticks per unit) in the final frame
    for k, m in enumerate(motors):
        per_unit = neutral[m.id][2]
        if m.index == gripper_index:
            zero_final = CENTER - per_unit / 2
        else:
            zero_final = CENTER
        wanted_here = zero_final + values_here[m.id] * per_unit
        offsets[m.id] = int(round(wanted_here - after_drive[k]))
        frames[m.id] = (zero_final, per_unit)
    _write_all(arm, motors, "homing_offset", offsets)

    joints = _joint_records(arm, motors, offsets, frames, ranges, gripper_index)
    calibration = ArmCalibration(
        rig=rig_name,
        arm=arm.name,
        role=spec.role,
        created=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        joints=joints,
        notes=[
            f"{j.joint}: its travel crosses the encoder seam; after a power cycle part-way it reads one turn off "
            "— re-seat the horn a few teeth so the seam falls outside the travel"
            for j in joints
            if j.crosses_encoder_seam
        ],
    )

    # Step 6: the closing check, in the other pose so direction is checked too.
    _place(guide, arm, "check", "the rotated pose again (check)", full_pose(rotated_q))
    values = calibration.joint_map().to_values(_primary_ticks(read(), motors))
    off = np.abs(values[moving_index] - rotated_q)
    if off.max() > CHECK_TOLERANCE_RAD:
        worst = int(off.argmax())
        raise CalibrationError(
            f"{arm.name}: after calibrating, {spec.joint_names[moving_index[worst]]} reads "
            f"{math.degrees(values[moving_index[worst]]):.1f}° in the rotated pose, "
            f"not {math.degrees(rotated_q[worst]):.1f}°",
            hint="the arm moved during the procedure, or was not in the pose; run it again",
        )
    guide.done(arm.name)
    return calibration


def _place(guide: Guide, arm: DynamixelArm, step: str, instruction: str, pose: np.ndarray) -> None:
    targets = [
        (joint, f"{pose[i]:.0%} open" if joint == arm.spec.gripper else f"{math.degrees(pose[i]):+.0f}°")
        for i, joint in enumerate(arm.spec.joint_names)
    ]
    guide.place(arm.name, step, instruction, pose, targets)


def _motors_of(arm: DynamixelArm) -> list[_Motor]:
    motors = []
    for index, (joint, motor) in enumerate(arm.spec.motors.items()):
        motors.append(_Motor(joint, index, motor.id, motor.model, None))
        if motor.shadow is not None:
            motors.append(_Motor(joint, index, motor.shadow.id, motor.model, motor.id))
    return motors


def _primary_ticks(readings: np.ndarray, motors: list[_Motor]) -> np.ndarray:
    return np.array([readings[k] for k, m in enumerate(motors) if m.shadow_of is None])


def _write_all(arm: DynamixelArm, motors: list[_Motor], register: str, values: dict[int, int]) -> None:
    # Every X-series model has Homing Offset and Drive Mode (EEPROM: torque is off here).
    for m in motors:
        arm.bus.write(m.id, register, values[m.id])


def _check_shadows(arm: DynamixelArm, motors: list[_Motor], neutral: dict) -> None:
    for m in motors:
        if m.shadow_of is None:
            continue
        opposite = neutral[m.id][0] != neutral[m.shadow_of][0]
        declared = arm.spec.motors[m.joint].shadow.reverse
        if opposite != declared:
            raise CalibrationError(
                f"{arm.name}/{m.joint}: shadow motor {m.id} turns "
                f"{'opposite to' if opposite else 'the same way as'} its primary {m.shadow_of}, "
                f"but the rig file says reverse: {str(declared).lower()}",
                hint=f"set arms.{arm.name}.motors.{m.joint}.shadow.reverse: {str(opposite).lower()} in the rig file",
            )


def _joint_records(arm, motors, offsets, frames, ranges, gripper_index) -> list[JointCalibration]:
    records = []
    for m in motors:
        if m.shadow_of is not None:
            continue
        shadow = next((s for s in motors if s.shadow_of == m.id), None)
        zero_final, per_unit = frames[m.id]
        lo, hi = ranges[m.id]
        records.append(
            JointCalibration(
                joint=m.joint,
                kind="gripper" if m.index == gripper_index else "revolute",
                motor=_registers(arm, m, offsets),
                shadow=_registers(arm, shadow, offsets) if shadow else None,
                zero_ticks=zero_final,
                direction=1,
                ticks_per_unit=per_unit,
                range=(float(lo), float(hi)),
                crosses_encoder_seam=any(
                    _crosses_seam(zero_final + v * per_unit - offsets[x.id])
                    for x in (m, shadow)
                    if x is not None
                    for v in (lo, hi)
                ),
            )
        )
    return records


def _registers(arm: DynamixelArm, m: _Motor, offsets: dict[int, int]) -> MotorRegisters:
    return MotorRegisters(
        id=m.id, model=m.model, homing_offset=offsets[m.id], drive_mode=arm.bus.read(m.id, "drive_mode")
    )


def _crosses_seam(encoder_ticks: float) -> bool:
    """Whether a travel end, as the encoder itself reads it (Homing Offset taken off), is past the seam."""
    return not 0 <= encoder_ticks < ENCODER_TICKS
