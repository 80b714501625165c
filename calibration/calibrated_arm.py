"""An arm in joint units: radians in the shared frame, the gripper 0 (closed) .. 1 (open).

Wraps a `DynamixelArm`; opening it checks the arm against its calibration and refuses on mismatch.
"""

from __future__ import annotations

import numpy as np

from calibration.model import ArmCalibration, JointMap
from calibration.verify import check_arm
from drivers.dynamixel.arm import DynamixelArm


class CalibratedArm:
    def __init__(self, arm: DynamixelArm, calibration: ArmCalibration):
        self.arm = arm
        self.calibration = calibration
        self.map: JointMap = calibration.joint_map()

    @property
    def name(self) -> str:
        return self.arm.name

    @property
    def joint_names(self) -> list[str]:
        return self.arm.joint_names

    def open(self) -> CalibratedArm:
        self.arm.open()
        try:
            check_arm(self.arm, self.calibration)
        except BaseException:
            self.arm.close()
            raise
        return self

    def close(self) -> None:
        self.arm.close()

    def __enter__(self) -> CalibratedArm:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def is_ready(self) -> bool:
        return self.arm.is_ready

    def read(self) -> np.ndarray:
        return self.map.to_values(self.arm.read().positions)

    def write(self, values) -> None:
        """Goal joint values, kept inside the calibrated range."""
        self.arm.write_goal(self.map.to_ticks(self.map.clip(values)))
