"""insertion: the arms pick up a peg (red) and a socket (blue), meet in the air and push the peg in.

The socket is a square tube open at both ends with a pin in its middle; the peg reaches the pin when
it is 2 cm inside. Success: an end of the peg at least 1.5 cm inside the tube (measured in the socket's
frame, so it holds however the parts are turned) while neither part touches the table. Geometry rather
than peg-pin contact, because a contact flickers as the hands tremble while the peg stays inside.
"""

from __future__ import annotations

import mujoco
import numpy as np

from drivers.sim.arms import ARM_SIDES
from drivers.sim.contacts import ContactSet, body_geoms, geom_ids
from drivers.sim.task_base import ObjectPose, SuccessMonitor, Task, TaskStatus, finger_geoms, held_by

PEG_HALF = np.array([0.06, 0.01, 0.01])
SOCKET_HALF = np.array([0.06, 0.022, 0.022])  # outer size of the tube
PIN_HALF_LENGTH = 0.04  # the pin fills the socket's middle; the open ends are 2 cm deep
SOCKET_INNER_HALF = 0.018  # inner half-width of the tube (wall thickness 4 mm)
MIN_DEPTH_M = 0.015
LIFT_M = 0.02


class Insertion(Task):
    name = "insertion"
    model_file = "bimanual_viperx_insertion.xml"
    summary = "pick up peg and socket, one per arm, and insert the peg in mid-air"
    objects = ("peg", "socket")

    peg_x, socket_x = (0.10, 0.20), (-0.20, -0.10)  # the peg starts on the right arm's side
    y_range = (0.42, 0.60)
    max_yaw = 0.2

    def layout(self, seed: int) -> dict[str, ObjectPose]:
        rng = self.rng(seed, 0)
        peg = np.array([rng.uniform(*self.peg_x), rng.uniform(*self.y_range), PEG_HALF[2]])
        socket = np.array([rng.uniform(*self.socket_x), rng.uniform(*self.y_range), SOCKET_HALF[2]])
        yaws = rng.uniform(-self.max_yaw, self.max_yaw, size=2)
        return {"peg": ObjectPose(peg, float(yaws[0])), "socket": ObjectPose(socket, float(yaws[1]))}

    def monitor(self, model: mujoco.MjModel) -> SuccessMonitor:
        return _InsertionMonitor(model)


class _InsertionMonitor(SuccessMonitor):
    def __init__(self, model: mujoco.MjModel):
        self.model = model
        self.peg = body_geoms(model, "peg")
        self.socket = body_geoms(model, "socket")
        self.pin = geom_ids(model, "pin")
        self.table = geom_ids(model, "table")
        self.fingers = {side: finger_geoms(model, side) for side in ARM_SIDES}
        self.peg_body = model.body("peg").id
        self.socket_body = model.body("socket").id
        self.was_inserted = False
        self._now = TaskStatus(False, "on the table", {})

    def update(self, data: mujoco.MjData) -> None:
        contacts = ContactSet(self.model, data)
        peg_h = float(data.xpos[self.peg_body, 2]) - PEG_HALF[2]
        socket_h = float(data.xpos[self.socket_body, 2]) - SOCKET_HALF[2]
        peg_up = peg_h > LIFT_M and not contacts.touching(self.peg, self.table)
        socket_up = socket_h > LIFT_M and not contacts.touching(self.socket, self.table)
        depth = self._depth(data)
        inserted = depth >= MIN_DEPTH_M
        success = inserted and peg_up and socket_up
        self.was_inserted |= success
        peg_held = [s for s in ARM_SIDES if held_by(contacts, self.peg, self.fingers[s])]
        socket_held = [s for s in ARM_SIDES if held_by(contacts, self.socket, self.fingers[s])]
        if success:
            stage = "inserted"
        elif peg_up and socket_up:
            stage = "both lifted"
        elif peg_held or socket_held:
            stage = "grasped"
        else:
            stage = "on the table"
        detail = {
            "peg_held_by": peg_held,
            "socket_held_by": socket_held,
            "peg_height_m": round(peg_h, 4),
            "socket_height_m": round(socket_h, 4),
            "depth_m": round(depth, 4),
            "peg_on_pin": contacts.touching(self.peg, self.pin),
            "ever_inserted": self.was_inserted,
        }
        self._now = TaskStatus(success, stage, detail)

    def status(self) -> TaskStatus:
        return self._now

    def _depth(self, data: mujoco.MjData) -> float:
        """How far the deeper peg end is inside the tube (negative: outside or off the tube's axis)."""
        socket_rot = data.xmat[self.socket_body].reshape(3, 3)
        peg_rot = data.xmat[self.peg_body].reshape(3, 3)
        best = -1.0
        for sign in (1.0, -1.0):
            end = data.xpos[self.peg_body] + sign * PEG_HALF[0] * peg_rot[:, 0]
            local = socket_rot.T @ (end - data.xpos[self.socket_body])
            if max(abs(local[1]), abs(local[2])) < SOCKET_INNER_HALF:
                best = max(best, SOCKET_HALF[0] - abs(local[0]))
        return float(best)
