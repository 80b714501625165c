"""Raw encoder ticks ↔ joint values (rad; gripper 0..1) for the arms of a simulated rig.

`joint_map_for(sim)` is the one place evaluation and the scripted demos turn ticks into joint values
and back. Until `robot-stack calibrate` (calibration/) exists it returns the simulator's own mounting
(ground truth); calibration will replace the body of this function with the rig's stored calibration,
and nothing else has to change.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class JointMap(Protocol):
    def values(self, arm: str, raw) -> np.ndarray:
        """(J,) joint values of `arm` from its raw tick vector (joint order)."""
        ...

    def raw(self, arm: str, values) -> np.ndarray:
        """(J,) int raw goal ticks of `arm` for joint values (joint order)."""
        ...


def joint_map_for(sim) -> JointMap:
    """Ticks ↔ joint values for every arm of `sim` (a drivers.sim.rig.SimRig).

    Stand-in: the simulator's mounting map. Calibration will replace this with the calibration stored
    for the rig (the same ticks → radians / gripper fraction that recording used)."""
    return sim.mounting()
