"""What every task shares: a model file, a seeded layout, a success check.

A task is a description, not a simulation: `layout(seed)` says where its objects start (the same
seed always gives the same poses, so a scene and a scripted operator built from one seed agree), and
`monitor(model)` makes a fresh success check that the scene feeds while it steps.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass

import mujoco
import numpy as np

from drivers.sim.contacts import ContactSet, body_geoms, geom_ids
from robot_stack.errors import RobotStackError

# Home pose of each follower arm (the model's keyframe): six joints in radians, gripper fraction.
HOME = np.array([0.0, -0.96, 1.16, 0.0, -0.3, 0.0, 0.083])


@dataclass(frozen=True)
class ObjectPose:
    position: np.ndarray  # (3,) metres, world frame
    yaw: float  # radians about world z; objects start flat on the table

    @property
    def quat(self) -> np.ndarray:
        return np.array([np.cos(self.yaw / 2), 0.0, 0.0, np.sin(self.yaw / 2)])

    @property
    def rotation(self) -> np.ndarray:
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class TaskStatus:
    success: bool
    stage: str  # how far the episode got, in the task's own words
    detail: dict


class SuccessMonitor(ABC):
    """Watches one episode. `update` is called as physics steps; success may depend on history."""

    @abstractmethod
    def update(self, data: mujoco.MjData) -> None: ...

    @abstractmethod
    def status(self) -> TaskStatus: ...


class Task(ABC):
    name: str
    model_file: str
    summary: str
    objects: tuple[str, ...]  # body names of the free objects, in the order of their free joints

    def rng(self, seed: int, stream: int) -> np.random.Generator:
        """Independent random streams per seed: 0 for the layout, others for whoever else needs one."""
        return np.random.default_rng([check_seed(seed), stream])

    @abstractmethod
    def layout(self, seed: int) -> dict[str, ObjectPose]: ...

    @abstractmethod
    def monitor(self, model: mujoco.MjModel) -> SuccessMonitor: ...


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise RobotStackError(
            f"the simulation seed must be a whole number >= 0, got {seed!r} ({type(seed).__name__})",
            hint="pass an integer such as seed=0 (in hardware.yaml: sim.seed: 0)",
        )
    return int(seed)


def place_objects(model: mujoco.MjModel, data: mujoco.MjData, layout: dict[str, ObjectPose]) -> None:
    """Put each free object at its pose, at rest."""
    for body_name, pose in layout.items():
        joint = model.body(body_name).jntadr[0]
        qpos, dof = model.jnt_qposadr[joint], model.jnt_dofadr[joint]
        data.qpos[qpos : qpos + 3] = pose.position
        data.qpos[qpos + 3 : qpos + 7] = pose.quat
        data.qvel[dof : dof + 6] = 0.0


def arm_geoms(model: mujoco.MjModel, side: str) -> frozenset[int]:
    return body_geoms(model, f"vx300s_{side}", subtree=True)


def finger_geoms(model: mujoco.MjModel, side: str) -> tuple[frozenset[int], frozenset[int]]:
    prefix = f"vx300s_{side}/10_"
    return geom_ids(model, prefix + "left_gripper_finger"), geom_ids(model, prefix + "right_gripper_finger")


def held_by(
    contacts: ContactSet, obj: frozenset[int], fingers: tuple[frozenset[int], frozenset[int]]
) -> bool:
    """Both fingers of one gripper on the object: a pinch, not a nudge."""
    return contacts.touching(obj, fingers[0]) and contacts.touching(obj, fingers[1])
