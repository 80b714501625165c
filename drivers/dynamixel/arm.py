"""One arm: its joints as one vector, read in one bus transaction and written in one.

Values are raw encoder ticks in joint order. Turning ticks into radians (and the gripper into 0..1)
is calibration's job: it wraps an arm and maps `ArmReading.positions` and goal vectors through its
per-joint offsets and directions, so nothing here changes when calibration arrives.

Leaders and followers are the same class: a leader is configured with torque off and only read
(torque can be switched on so it follows the follower during a takeover); a follower is configured
with torque on, holding its pose, and takes goal positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from drivers.dynamixel.bus import DynamixelBus
from drivers.dynamixel.configure import ConfigReport, configure_arm, register_motors, set_torque
from drivers.dynamixel.errors import ConfigurationError
from robot_stack.clock import Clock
from robot_stack.rig.schema import ArmSpec, RigSpec


@dataclass(frozen=True)
class ArmReading:
    positions: np.ndarray  # (J,) int64 encoder ticks, joint order
    velocities: np.ndarray | None  # (J,) int64, 0.229 rev/min per unit; None unless asked for
    currents: np.ndarray | None  # (J,) int64 Present Current units (Present Load, 0.1 %, on XL430/XC430)
    t: float  # host monotonic time at which the last reply byte arrived
    seq: int  # 1, 2, ... per arm


class DynamixelArm:
    def __init__(
        self,
        name: str,
        spec: ArmSpec,
        *,
        read_velocity: bool = False,
        read_current: bool = False,
        torque: bool | None = None,
        retries: int = 3,
        clock: Clock | None = None,
        **bus_options,
    ):
        """`torque`: None → the role's default (leader off, follower on). `bus_options` go to DynamixelBus."""
        self.name = name
        self.spec = spec
        self.joint_names: list[str] = list(spec.motors)
        self.torque_on_open = (spec.role == "follower") if torque is None else torque
        self.bus = DynamixelBus(
            spec.port,
            spec.baud_rate,
            retries=retries,
            arm=name,
            return_delay_us=spec.return_delay_us,
            clock=clock,
            **{"timeout_margin_ms": spec.reply_timeout_ms, **bus_options},
        )
        # present_current (126), present_velocity (128) and present_position (132) are contiguous:
        # any prefix of them is one block, one transaction.
        self.registers = ["present_position"]
        if read_velocity or read_current:
            self.registers.insert(0, "present_velocity")
        if read_current:
            self.registers.insert(0, "present_current")
        self._reader = None
        self._writer = None
        self._goal_reader = None
        self._seq = 0
        self.config_report: ConfigReport | None = None
        self.torque_enabled = False

    @classmethod
    def from_rig(cls, rig: RigSpec, name: str, **options) -> DynamixelArm:
        if name not in rig.arms:
            raise KeyError(f"no arm {name!r} in rig {rig.name!r}; arms: {', '.join(rig.arms)}")
        return cls(name, rig.arms[name], **options)

    @property
    def role(self) -> str:
        return self.spec.role

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    # -- lifecycle -----------------------------------------------------------------------------
    def open(self) -> DynamixelArm:
        if self.is_ready:
            return self
        self.bus.open()
        try:
            register_motors(self.bus, self.spec)
            self.config_report = configure_arm(self.bus, self.spec, torque=self.torque_on_open)
            self.torque_enabled = self.torque_on_open
            self._reader = self.bus.group_reader(self.joint_names, self.registers)
            self._writer = self.bus.group_writer(self.joint_names, "goal_position")
        except BaseException:
            self.bus.close()
            raise
        return self

    def close(self) -> None:
        """Release the port. Torque stays as it is: parking and torque-off at stop are the caller's
        policy (deploy's safety layer), not a side effect of closing a port."""
        self._reader = self._writer = self._goal_reader = None
        self.bus.close()

    def __enter__(self) -> DynamixelArm:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def is_ready(self) -> bool:
        return self._reader is not None and self.bus.is_ready

    # -- I/O -------------------------------------------------------------------------------------
    @property
    def read_mode(self) -> str:
        """Which instruction the tick read uses: fast_sync_read, sync_read or bulk_read."""
        return self._require()[0].mode

    def read(self) -> ArmReading:
        """All joints in one transaction (fast sync read where the motors support it)."""
        reader, _ = self._require()
        values, t = reader.read()
        self._seq += 1
        k = len(self.registers)
        return ArmReading(
            positions=values[:, k - 1],
            velocities=values[:, k - 2] if k >= 2 else None,
            currents=values[:, 0] if k == 3 else None,
            t=t,
            seq=self._seq,
        )

    def write_goal(self, positions: Sequence[float] | np.ndarray, *, verify: bool = False) -> None:
        """Goal positions (ticks, joint order) for all joints in one Sync Write.

        Sync Write has no reply: this returns once the packet is on its way, before the motors have
        acted on it. With `verify`, the goals are read back in one more transaction (so the call
        returns after the motors hold them) and written again where one was lost; a motor that
        still does not hold its goal (e.g. beyond its position limit) raises ConfigurationError.
        """
        _, writer = self._require()
        writer.write(positions)
        if verify:
            self._verify_goal(np.rint(np.asarray(positions, dtype=np.float64)).astype(np.int64))

    def _verify_goal(self, wanted: np.ndarray) -> None:
        if self._goal_reader is None:
            self._goal_reader = self.bus.group_reader(self.joint_names, ["goal_position"])
        for attempt in range(self.bus.retries + 1):
            held = self._goal_reader.read()[0][:, 0]
            wrong = np.flatnonzero(held != wanted)
            if not wrong.size:
                return
            if attempt < self.bus.retries:
                self._require()[1].write(wanted)
        which = ", ".join(
            f"{self.bus.label(self.spec.motors[self.joint_names[i]].id)} holds {held[i]}, not {wanted[i]}"
            for i in wrong
        )
        raise ConfigurationError(
            f"goal positions did not take on {self.bus.port_name}: {which}",
            "a goal outside the motor's min/max position limit is ignored; check the limits "
            "(`robot-stack motors read`) and the calibration that produced the goal",
        )

    def set_torque(self, enabled: bool) -> None:
        """Torque on holds the present pose (goal := present first); off lets the arm be moved by hand."""
        self._require()
        set_torque(self.bus, self.spec, enabled)
        self.torque_enabled = enabled

    def _require(self):
        if self._reader is None or self._writer is None:
            raise RuntimeError(f"arm {self.name} is not open")
        return self._reader, self._writer

    def __repr__(self) -> str:
        return f"DynamixelArm({self.name!r}, {self.spec.role}, {self.spec.port}, {self.num_joints} joints)"
