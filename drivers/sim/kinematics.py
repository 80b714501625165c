"""Forward and inverse kinematics of one ViperX arm, straight from the MuJoCo model.

FK runs the model's own kinematics on a private MjData, so it can never disagree with the physics.
IK is damped least squares on the 6x6 Jacobian from `mj_jac`, clamped to the joint limits each step.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from drivers.sim.arms import GRASP_POINT, arm_index

# Orientation error counts like this many metres per radian: 0.1 weighs a 1 cm miss like a 0.1 rad one,
# about what matters when the fingers close on a 4 cm cube.
ROTATION_WEIGHT = 0.1


@dataclass(frozen=True)
class IkResult:
    q: np.ndarray  # (6,) joint angles, within limits
    position_error: float  # metres
    rotation_error: float  # radians
    iterations: int
    converged: bool


def gripper_rotation(approach, pinch) -> np.ndarray:
    """Rotation of the gripper frame: x along the approach (palm → fingertips), y along the pinch axis."""
    x = np.asarray(approach, float)
    x = x / np.linalg.norm(x)
    y = np.asarray(pinch, float)
    y = y - x * (x @ y)  # make the pinch axis exactly perpendicular to the approach
    y = y / np.linalg.norm(y)
    return np.column_stack([x, y, np.cross(x, y)])


def rotation_vector(rot: np.ndarray) -> np.ndarray:
    """The axis * angle of a rotation matrix (log map), robust near 0 and near pi."""
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(rot).ravel())
    if quat[0] < 0:  # take the short way round
        quat = -quat
    vec = np.empty(3)
    mujoco.mju_quat2Vel(vec, quat, 1.0)
    return vec


def rotation_about(axis, angle: float) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


# A position-mode servo reports one turn, and an arm's motors are mounted with their zero somewhere
# near mid-range (±256 ticks in the sim), so a joint reaches about ±2.75 rad before its goal would
# wrap. The model allows ±π on the roll joints; plans stay inside what the servos can be told.
SERVO_REACH_RAD = 2.6


class ArmKinematics:
    """FK/IK of the grasp point (between the finger pads) of one arm. Not thread-safe: one per thread."""

    def __init__(self, model: mujoco.MjModel, side: str):
        self.model = model
        self.arm = arm_index(model, side)
        self._data = mujoco.MjData(model)
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self._bias = np.zeros(model.nv)
        self._kp = model.actuator_gainprm[self.arm.actuators, 0].copy()

    @property
    def lower(self) -> np.ndarray:
        return np.maximum(self.arm.lower, -SERVO_REACH_RAD)

    @property
    def upper(self) -> np.ndarray:
        return np.minimum(self.arm.upper, SERVO_REACH_RAD)

    def _pose(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._data.qpos[self.arm.qpos] = q
        mujoco.mj_kinematics(self.model, self._data)
        body = self.arm.gripper_body
        rot = self._data.xmat[body].reshape(3, 3).copy()
        return self._data.xpos[body] + rot @ GRASP_POINT, rot

    def fk(self, q) -> tuple[np.ndarray, np.ndarray]:
        """World position (3,) and rotation (3, 3) of the grasp point for six joint angles."""
        return self._pose(np.asarray(q, float)[:6])

    def sag_compensation(self, q) -> np.ndarray:
        """(6,) what to add to a position target so the servo holds the arm at `q` against gravity.

        A position servo settles where its spring (kp * error) carries the joint's gravity load, i.e.
        load / kp short of the target: a few millimetres at the gripper, enough to jam a peg.
        """
        self._data.qpos[self.arm.qpos] = np.asarray(q, float)[:6]
        self._data.qvel[:] = 0.0
        mujoco.mj_kinematics(self.model, self._data)
        mujoco.mj_comPos(self.model, self._data)
        mujoco.mj_rne(self.model, self._data, 0, self._bias)
        return self._bias[self.arm.dof] / self._kp

    def ik(
        self,
        position,
        rotation,
        q_init=None,
        max_iterations: int = 200,
        position_tolerance: float = 5e-4,
        rotation_tolerance: float = 5e-3,
        damping: float = 0.02,
        max_step: float = 0.25,
    ) -> IkResult:
        """Joint angles that put the grasp point at `position` with the gripper frame at `rotation`."""
        target_p = np.asarray(position, float)
        target_r = np.asarray(rotation, float)
        q = np.clip(
            np.zeros(6) if q_init is None else np.asarray(q_init, float)[:6].copy(), self.lower, self.upper
        )
        dof = self.arm.dof
        eye = np.eye(6) * damping**2
        for iteration in range(max_iterations + 1):
            p, r = self._pose(q)
            err_p = target_p - p
            err_r = rotation_vector(target_r @ r.T)
            pos_err, rot_err = float(np.linalg.norm(err_p)), float(np.linalg.norm(err_r))
            if (
                pos_err <= position_tolerance and rot_err <= rotation_tolerance
            ) or iteration == max_iterations:
                break
            mujoco.mj_comPos(self.model, self._data)  # mj_jac reads the com-based motion axes
            mujoco.mj_jac(self.model, self._data, self._jacp, self._jacr, p, self.arm.gripper_body)
            jac = np.vstack([self._jacp[:, dof], ROTATION_WEIGHT * self._jacr[:, dof]])
            err = np.concatenate([err_p, ROTATION_WEIGHT * err_r])
            dq = jac.T @ np.linalg.solve(jac @ jac.T + eye, err)
            norm = np.linalg.norm(dq)
            if norm > max_step:  # big steps overshoot where the Jacobian is only locally right
                dq *= max_step / norm
            q = np.clip(q + dq, self.lower, self.upper)
        converged = pos_err <= position_tolerance * 4 and rot_err <= rotation_tolerance * 4
        return IkResult(q, pos_err, rot_err, iteration, converged)
