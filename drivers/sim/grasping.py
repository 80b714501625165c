"""Grasp geometry shared by the task plans: where an arm stands, how a hand naturally turns, and
how a grasp ties the gripper to an object so later gripper poses follow from object poses."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations, product

import mujoco
import numpy as np

from drivers.sim.kinematics import gripper_rotation
from drivers.sim.trajectory import Pose

DOWN = np.array([0.0, 0.0, -1.0])


def arm_base(model: mujoco.MjModel, side: str) -> np.ndarray:
    return model.body(f"vx300s_{side}").pos.copy()


def radial(base: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Horizontal unit vector from an arm's base towards a point."""
    v = np.array([point[0] - base[0], point[1] - base[1], 0.0])
    return v / np.linalg.norm(v)


def natural_pinch(direction: np.ndarray) -> np.ndarray:
    """The pinch axis a hand reaching along `direction` has without turning the wrist."""
    return np.array([-direction[1], direction[0], 0.0])


def closest(candidates, reference: np.ndarray) -> np.ndarray:
    """The candidate axis (either sign) that points most like `reference`."""
    options = [s * np.asarray(c, float) for c in candidates for s in (1.0, -1.0)]
    return max(options, key=lambda v: float(v @ reference))


def tilted(approach: np.ndarray, towards: np.ndarray, angle: float) -> np.ndarray:
    v = approach + np.tan(angle) * towards
    return v / np.linalg.norm(v)


def top_grasp(point: np.ndarray, pinch: np.ndarray, radial_dir: np.ndarray, tilt: float) -> Pose:
    """A grasp from above, fingertips tilted `tilt` rad away from the arm's base (0: straight down).

    The tilt turns the hand about the pinch axis only, so the fingers still close square on the faces.
    """
    away = radial_dir - pinch * (radial_dir @ pinch)
    away /= np.linalg.norm(away)
    return Pose(np.asarray(point, float), gripper_rotation(tilted(DOWN, away, tilt), pinch))


@dataclass(frozen=True)
class Grasp:
    """A gripper pose expressed in an object's frame: once the object is held, they move as one."""

    rotation: np.ndarray  # gripper rotation in the object frame
    offset: np.ndarray  # grasp point in the object frame

    @classmethod
    def of(cls, gripper: Pose, object_position, object_rotation) -> Grasp:
        r_obj = np.asarray(object_rotation)
        return cls(r_obj.T @ gripper.rotation, r_obj.T @ (gripper.position - np.asarray(object_position)))

    def gripper_pose(self, object_position, object_rotation) -> Pose:
        r_obj = np.asarray(object_rotation)
        return Pose(np.asarray(object_position) + r_obj @ self.offset, r_obj @ self.rotation)


def _cube_symmetries() -> list[np.ndarray]:
    mats = []
    for perm in permutations(range(3)):
        for signs in product((1, -1), repeat=3):
            m = np.zeros((3, 3))
            m[list(range(3)), list(perm)] = signs
            if np.linalg.det(m) > 0:
                mats.append(m)
    return mats


CUBE_SYMMETRIES = _cube_symmetries()  # the 24 rotations that map a cube onto itself


def snap_to_axes(rotation: np.ndarray) -> np.ndarray:
    """The axis-aligned orientation nearest `rotation` (the cube 'squared up' to the world)."""
    return max(CUBE_SYMMETRIES, key=lambda m: float(np.trace(m.T @ rotation)))
