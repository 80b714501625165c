"""Binds emulated Dynamixel chains to the simulated world.

Followers: before a read is answered, each motor's shaft takes the physics joint's position,
velocity and load; a Goal Position written on the bus becomes that joint's actuator target.
Leaders have no physics: with torque off a person moves them (here the scripted operator, when one
is attached); with torque on the emulator's ideal servo tracks their goal, so "leader follows
follower" and takeover work as on a real rig.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np

from drivers.dynamixel.emulator import DynamixelChainEmulator
from drivers.sim.assembly import ArmAssembly
from drivers.sim.scene import SimScene

RAD_PER_S_PER_VELOCITY_UNIT = 0.229 * 2 * math.pi / 60
# Load as current: a rough torque constant of the X-series (≈ 2.4 N·m per A) and, for the gripper,
# ≈ 10 mA per newton of squeeze; enough for a gripper-current trace or an overload check to mean
# something, not a motor model.
MA_PER_NM = 420.0
MA_PER_N = 10.0
MA_PER_CURRENT_UNIT = 2.69


class FollowerBinding:
    def __init__(
        self,
        scene: SimScene,
        side: str,
        chain: DynamixelChainEmulator,
        assembly: ArmAssembly,
        gripper_index: int | None,
    ):
        self.scene, self.side, self.chain, self.assembly = scene, side, chain, assembly
        self.gripper_index = gripper_index
        self._targets = scene.follower_targets(side)
        self._lock = threading.Lock()
        # Calibration: the arm lifted onto a stand and turned by hand. While set, the motors report
        # this pose instead of the physics (which keeps the arm where it was).
        self.hand_pose: np.ndarray | None = None
        chain.attach_physics(before_reply=self._refresh, on_write=self._on_write)
        self._refresh([m.id for m in chain.motors])

    def _refresh(self, motor_ids) -> None:
        hand = self.hand_pose
        if hand is not None:
            q, v, effort = hand, np.zeros_like(hand), np.zeros_like(hand)
        else:
            q = self.scene.follower_joint_positions(self.side)
            v = self.scene.follower_joint_velocities(self.side)
            effort = self.scene.follower_joint_efforts(self.side)
        for motor_id in motor_ids:
            mount = self.assembly.mounts.get(motor_id)
            if mount is None:
                continue
            j = mount.joint_index
            motor = self.chain.motor(motor_id)
            motor.set_raw_position(mount.raw(q[j]))
            ticks_per_s = v[j] * mount.ticks_per_unit * mount.direction
            motor.set_raw_velocity(ticks_per_s / 4096 * 2 * math.pi / RAD_PER_S_PER_VELOCITY_UNIT)
            ma = effort[j] * (MA_PER_N if j == self.gripper_index else MA_PER_NM)
            motor.set_raw_current(mount.direction * ma / MA_PER_CURRENT_UNIT)

    def _on_write(self, motor_id: int, register: str, value: int) -> None:
        mount = self.assembly.mounts.get(motor_id)
        if mount is None or mount.is_shadow or self.hand_pose is not None:
            return  # a shadow follows its primary (the joint has one actuator); a hand overrides
        motor = self.chain.motor(motor_id)
        if register == "goal_position" and motor.torque_enabled:
            target = mount.value(motor.goal_raw_position())
        elif register == "torque_enable":
            # Torque on: hold where the joint is (as firmware sets goal = present). Torque off: the
            # joint goes limp; without a gravity-compensation model it is held where it is.
            target = float(self.scene.follower_joint_positions(self.side)[mount.joint_index])
        else:
            return
        with self._lock:
            self._targets[mount.joint_index] = target
            if self.gripper_index is not None:
                self._targets[self.gripper_index] = float(
                    np.clip(self._targets[self.gripper_index], 0.0, 1.0)
                )
            self.scene.set_follower_targets(self.side, self._targets)


class LeaderBinding:
    """`pose_at(t)` gives the leader's 7-vector while a person holds it (None: nobody moves it)."""

    def __init__(
        self, side: str, chain: DynamixelChainEmulator, assembly: ArmAssembly, clock: Callable[[], float]
    ):
        self.side, self.chain, self.assembly, self.clock = side, chain, assembly, clock
        self.pose_at: Callable[[float], np.ndarray] | None = None
        chain.before_reply = self._refresh

    def place(self, q: np.ndarray) -> None:
        """Put the leader's joints at q (power-on pose, or after a reset)."""
        for motor_id, mount in self.assembly.mounts.items():
            self.chain.motor(motor_id).set_raw_position(mount.raw(q[mount.joint_index]))

    def _refresh(self, motor_ids) -> None:
        pose_at = self.pose_at
        if pose_at is None:
            return
        q = pose_at(self.clock())
        for motor_id in motor_ids:
            mount = self.assembly.mounts.get(motor_id)
            motor = self.chain.motor(motor_id)
            if mount is not None and not motor.torque_enabled:
                motor.set_raw_position(mount.raw(q[mount.joint_index]))
