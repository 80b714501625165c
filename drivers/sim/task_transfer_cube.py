"""transfer_cube: one arm picks the red cube off the table and hands it to the other arm.

As in the ACT paper's simulated task, the cube's position is random and it starts square to the table,
so the published success rates compare with ours; `transfer_cube_rotated` also turns it up to ±45°.

Success needs the whole story, so the monitor remembers it: the first arm to lift the cube is the
giver; the episode succeeds while the *other* arm pinches the cube in the air and the giver has let go.
"""

from __future__ import annotations

import mujoco
import numpy as np

from drivers.sim.arms import ARM_SIDES
from drivers.sim.contacts import ContactSet, body_geoms, geom_ids
from drivers.sim.task_base import (
    ObjectPose,
    SuccessMonitor,
    Task,
    TaskStatus,
    arm_geoms,
    finger_geoms,
    held_by,
)

CUBE_HALF = 0.02
LIFT_M = 0.02  # the cube's bottom this far above the table counts as lifted


class TransferCube(Task):
    name = "transfer_cube"
    model_file = "bimanual_viperx_transfer_cube.xml"
    summary = "one arm picks up the cube and hands it to the other"
    objects = ("box",)

    # Cube centre range on the table (world frame, metres): in reach of a top-down grasp by at least
    # the nearer arm, and of both arms in the middle band.
    x_range = (-0.15, 0.15)
    y_range = (0.42, 0.60)
    max_yaw = 0.0

    def layout(self, seed: int) -> dict[str, ObjectPose]:
        rng = self.rng(seed, 0)
        x, y = rng.uniform(*self.x_range), rng.uniform(*self.y_range)
        yaw = rng.uniform(-self.max_yaw, self.max_yaw)  # drawn even when 0: a seed keeps its position
        return {"box": ObjectPose(np.array([x, y, CUBE_HALF]), float(yaw))}

    def monitor(self, model: mujoco.MjModel) -> SuccessMonitor:
        return _TransferMonitor(model)


class TransferCubeRotated(TransferCube):
    name = "transfer_cube_rotated"
    summary = "transfer_cube with the cube turned up to ±45° (the grasp must turn the wrist)"
    max_yaw = np.pi / 4  # a cube looks the same every quarter turn


class _TransferMonitor(SuccessMonitor):
    def __init__(self, model: mujoco.MjModel):
        self.model = model
        self.cube = body_geoms(model, "box")
        self.table = geom_ids(model, "table")
        self.arms = {side: arm_geoms(model, side) for side in ARM_SIDES}
        self.fingers = {side: finger_geoms(model, side) for side in ARM_SIDES}
        self.cube_joint = model.jnt_qposadr[model.body("box").jntadr[0]]
        self.giver: str | None = None
        self.max_height = 0.0
        self._now = TaskStatus(False, "on the table", {})

    def update(self, data: mujoco.MjData) -> None:
        contacts = ContactSet(self.model, data)
        height = float(data.qpos[self.cube_joint + 2]) - CUBE_HALF
        self.max_height = max(self.max_height, height)
        lifted = height > LIFT_M and not contacts.touching(self.cube, self.table)
        holders = [s for s in ARM_SIDES if held_by(contacts, self.cube, self.fingers[s])]
        touching = [s for s in ARM_SIDES if contacts.touching(self.cube, self.arms[s])]
        if self.giver is None and lifted and len(holders) == 1:
            self.giver = holders[0]
        receiver = None if self.giver is None else _other(self.giver)
        success = lifted and receiver in holders and self.giver not in touching
        if success:
            stage = "transferred"
        elif self.giver is not None and receiver in touching:
            stage = "handing over"
        elif self.giver is not None and lifted:
            stage = "lifted"
        elif holders:
            stage = "grasped"
        else:
            stage = "on the table" if height < LIFT_M else "loose"
        detail = {
            "giver": self.giver,
            "holders": holders,
            "touching": touching,
            "cube_height_m": round(height, 4),
            "max_cube_height_m": round(self.max_height, 4),
        }
        self._now = TaskStatus(success, stage, detail)

    def status(self) -> TaskStatus:
        return self._now


def _other(side: str) -> str:
    return ARM_SIDES[1 - ARM_SIDES.index(side)]
