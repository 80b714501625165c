"""Every arm of a rig, open, checked against its calibration, each on its own bus I/O thread.

What teleop, record, replay and the deploy runtime start from: leaders read with torque off,
followers holding their pose with torque on; values in joint units through each arm's `JointMap`.
Hardware-error alerts from any motor land in `alerts`, for the control loop to act on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from calibration.model import ArmCalibration, JointMap
from calibration.verify import check_arm
from drivers.dynamixel.arm import DynamixelArm
from drivers.dynamixel.arm_thread import ArmIOThread
from drivers.dynamixel.errors import HardwareErrorEvent
from robot_stack.rig.schema import RigSpec


@dataclass
class RigArm:
    name: str
    role: str
    arm: DynamixelArm
    map: JointMap
    io: ArmIOThread

    @property
    def joint_names(self) -> list[str]:
        return self.arm.joint_names


class RigArms:
    def __init__(
        self,
        rig: RigSpec,
        calibrations: dict[str, ArmCalibration],
        *,
        names: list[str] | None = None,
        retries: int = 3,
        follower_torque: bool = True,
    ):
        self.rig = rig
        self.calibrations = calibrations
        self.names = names or [n for pair in rig.pairs for n in (pair.leader, pair.follower)]
        self.retries = retries
        self.follower_torque = follower_torque
        self.arms: dict[str, RigArm] = {}
        self.alerts: list[HardwareErrorEvent] = []
        self._alert_lock = threading.Lock()
        self.alerted = threading.Event()

    def open(self) -> RigArms:
        try:
            for name in self.names:
                spec = self.rig.arms[name]
                torque = self.follower_torque if spec.role == "follower" else False
                arm = DynamixelArm(
                    name, spec, torque=torque, retries=self.retries, read_current=spec.role == "follower"
                )
                arm.open()
                try:
                    check_arm(arm, self.calibrations[name])
                except BaseException:
                    arm.close()
                    raise
                io = ArmIOThread(
                    arm, on_hardware_error=self._alert, priority=self.rig.realtime_priority
                ).start()
                self.arms[name] = RigArm(name, spec.role, arm, self.calibrations[name].joint_map(), io)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for rig_arm in self.arms.values():
            try:
                rig_arm.io.stop()
            except RuntimeError:
                pass  # a thread stuck on a dead port is a daemon; the port closes under it
            rig_arm.arm.close()
        self.arms.clear()

    def __enter__(self) -> RigArms:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def is_ready(self) -> bool:
        return bool(self.arms) and all(a.io.is_running for a in self.arms.values())

    def __getitem__(self, name: str) -> RigArm:
        return self.arms[name]

    def with_role(self, role: str) -> list[RigArm]:
        return [a for a in self.arms.values() if a.role == role]

    def read_values(self, name: str, timeout: float = 1.0) -> np.ndarray:
        rig_arm = self.arms[name]
        return rig_arm.map.to_values(rig_arm.io.read(timeout).positions)

    def _alert(self, event: HardwareErrorEvent) -> None:
        with self._alert_lock:
            self.alerts.append(event)
        self.alerted.set()
