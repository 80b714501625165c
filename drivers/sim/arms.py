"""The two ViperX arms inside the MuJoCo model, seen in the shared kinematic frame.

The shared frame (what leaders, followers, calibration and datasets agree on) is 7 numbers per arm:
six joint angles in radians with the MuJoCo joints' zero and direction, then the gripper as a fraction,
0 closed … 1 open. The model drives the gripper as two mirrored slide joints (the fingers); the
fraction maps linearly onto their actuator range.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from robot_stack.errors import RobotStackError

ARM_SIDES = ("left", "right")
JOINT_NAMES = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")
ARM_JOINTS = JOINT_NAMES[:6]

# A point between the finger pads, in the gripper link's frame: the pads span 0.124–0.154 m along the
# gripper's x axis, and this is the point a grasp centres on an object.
GRASP_POINT = np.array([0.14, 0.0, 0.0])


def check_side(side: str) -> str:
    if side not in ARM_SIDES:
        raise RobotStackError(f"unknown arm side '{side}'", hint=f"use one of: {', '.join(ARM_SIDES)}")
    return side


@dataclass(frozen=True)
class ArmIndex:
    """Where one arm's joints, velocities and actuators sit in MuJoCo's arrays."""

    side: str
    prefix: str
    joint_ids: np.ndarray  # (6,) the arm joints
    qpos: np.ndarray  # (6,) qpos addresses of the arm joints
    dof: np.ndarray  # (6,) dof addresses of the arm joints
    finger_qpos: np.ndarray  # (2,) left, right finger slide joints
    finger_dof: np.ndarray  # (2,)
    actuators: np.ndarray  # (6,) position actuators of the arm joints
    finger_actuators: np.ndarray  # (2,)
    finger_open: float  # left-finger slide position when fully open (the right finger mirrors it)
    finger_closed: float
    gripper_body: int
    lower: np.ndarray  # (6,) joint limits
    upper: np.ndarray

    def finger_position(self, fraction: float) -> float:
        fraction = min(max(float(fraction), 0.0), 1.0)
        return self.finger_closed + fraction * (self.finger_open - self.finger_closed)

    def gripper_fraction(self, finger_pos: float) -> float:
        return (finger_pos - self.finger_closed) / (self.finger_open - self.finger_closed)


def arm_index(model: mujoco.MjModel, side: str) -> ArmIndex:
    check_side(side)
    prefix = f"vx300s_{side}"

    def joint(name: str) -> int:
        return model.joint(f"{prefix}/{name}").id

    def actuator_of(joint_id: int) -> int:
        hits = np.flatnonzero(
            (model.actuator_trntype == mujoco.mjtTrn.mjTRN_JOINT) & (model.actuator_trnid[:, 0] == joint_id)
        )
        if len(hits) != 1:
            raise RobotStackError(
                f"the MuJoCo model has no single actuator for joint {model.joint(joint_id).name}"
            )
        return int(hits[0])

    joint_ids = np.array([joint(n) for n in ARM_JOINTS])
    fingers = np.array([joint("left_finger"), joint("right_finger")])
    finger_act = np.array([actuator_of(j) for j in fingers])
    lo, hi = model.actuator_ctrlrange[finger_act[0]]
    return ArmIndex(
        side=side,
        prefix=prefix,
        joint_ids=joint_ids,
        qpos=model.jnt_qposadr[joint_ids].copy(),
        dof=model.jnt_dofadr[joint_ids].copy(),
        finger_qpos=model.jnt_qposadr[fingers].copy(),
        finger_dof=model.jnt_dofadr[fingers].copy(),
        actuators=np.array([actuator_of(j) for j in joint_ids]),
        finger_actuators=finger_act,
        finger_open=float(hi),
        finger_closed=float(lo),
        gripper_body=model.body(f"{prefix}/gripper_link").id,
        lower=model.jnt_range[joint_ids, 0].copy(),
        upper=model.jnt_range[joint_ids, 1].copy(),
    )


def arm_indices(model: mujoco.MjModel) -> dict[str, ArmIndex]:
    return {side: arm_index(model, side) for side in ARM_SIDES}
