"""One emulated X-series motor: its control table plus the physical shaft state behind it.

The physics (or the built-in ideal servo) owns the *physical* encoder position, in ticks, continuous
and signed, in the shaft's own direction. The motor turns it into Present Position the way the
firmware does:

    present_position = direction * raw + turn_offset + homing_offset

where direction is -1 when Drive Mode bit 0 (reverse) is set, and turn_offset is the multiple of
one revolution that puts `direction * raw` in [0, resolution) whenever the firmware re-reads its
single-turn absolute encoder (power-on, reboot, torque-on or a switch into Position Control Mode,
Clear Multi-Turn). Goal Position is converted back through the same formula, so the physics sees
where the shaft must go in its own frame. Velocity and current only take the direction.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from drivers.dynamixel import protocol as p
from drivers.dynamixel.control_table import HARDWARE_ERROR_BITS, ControlTable, control_table
from drivers.dynamixel.emulator.factory import baud_code, factory_defaults
from drivers.dynamixel.emulator.registers import RegisterFile
from robot_stack.rig.motor_catalog import BAUD_RATE_CODES, OPERATING_MODES

_POSITION_MODE = OPERATING_MODES["position"]
_HW_ERROR_BY_NAME = {name: bit for bit, name in HARDWARE_ERROR_BITS.items()}
_REVERSE_BIT = 0x01


@dataclass
class EmulatedMotorConfig:
    """How a motor comes out of the box in this emulation (its EEPROM at power-on)."""

    id: int
    model: str
    baud_rate: int | None = None  # bits/s; None: the chain's baud rate
    return_delay_us: int = 500  # factory: 250 units of 2 µs
    homing_offset: int = 0
    drive_mode: int = 0  # bit 0: reverse direction
    operating_mode: int = _POSITION_MODE
    raw_position: float = 2048.0  # physical encoder ticks at power-on
    registers: dict[str, int] = field(default_factory=dict)  # any other register, by name


class EmulatedMotor:
    """Thread-safe: every public method takes the chain's lock (an RLock shared by all motors)."""

    def __init__(self, config: EmulatedMotorConfig, chain_baud_rate: int, lock: threading.RLock):
        self.table: ControlTable = control_table(config.model)
        self.lock = lock
        self.regs = RegisterFile(self.table)
        self._raw_position = float(config.raw_position)
        self._raw_velocity = 0.0
        self._raw_current = 0.0
        self._turn_offset = 0
        self.registered_write: tuple[int, bytes] | None = None
        self._load_factory()
        eeprom = {
            "id": config.id,
            "baud_rate": baud_code(self.table, config.baud_rate or chain_baud_rate),
            "return_delay_time": config.return_delay_us // 2,
            "homing_offset": config.homing_offset,
            "drive_mode": config.drive_mode,
            "operating_mode": config.operating_mode,
        }
        extra_ram = {}
        for name, value in config.registers.items():
            (eeprom if self.table[name].eeprom else extra_ram)[name] = value
        for name, value in eeprom.items():
            self.regs.put(name, value)
        self.power_on()
        for name, value in extra_ram.items():
            self.regs.put(name, value)

    # ---- identity -------------------------------------------------------------------------
    @property
    def id(self) -> int:
        with self.lock:
            return self.regs.get("id")

    @property
    def model(self) -> str:
        return self.table.model.name

    @property
    def baud_rate(self) -> int:
        with self.lock:
            return BAUD_RATE_CODES.get(self.regs.get("baud_rate"), 0)

    @property
    def return_delay_s(self) -> float:
        with self.lock:
            return self.regs.get("return_delay_time") * 2e-6

    # ---- register access from outside the bus -------------------------------------------------
    def get(self, name: str) -> int:
        with self.lock:
            return self.regs.get(name)

    def set(self, name: str, value: int) -> None:
        """Set any register, bypassing access rules. Present position/velocity/current go through
        the physical state (inverting homing offset and direction) so the next refresh keeps them."""
        with self.lock:
            if name == "present_position":
                self._raw_position = self.direction * (
                    value - self.regs.get("homing_offset") - self._turn_offset
                )
            elif name == "present_velocity":
                self._raw_velocity = self.direction * value
            elif name in ("present_current", "present_load"):
                self._raw_current = self.direction * value
            self.regs.put(name, value)

    @property
    def direction(self) -> int:
        return -1 if self.regs.get("drive_mode") & _REVERSE_BIT else 1

    @property
    def torque_enabled(self) -> bool:
        with self.lock:
            return self.regs.get("torque_enable") == 1

    # ---- the physical side ------------------------------------------------------------------
    @property
    def raw_position(self) -> float:
        with self.lock:
            return self._raw_position

    def set_raw_position(self, ticks: float) -> None:
        with self.lock:
            self._raw_position = float(ticks)

    def set_raw_velocity(self, units: float) -> None:
        """Shaft velocity in Present Velocity units (0.229 rpm), in the shaft's own direction."""
        with self.lock:
            self._raw_velocity = float(units)

    def set_raw_current(self, units: float) -> None:
        """Shaft current in Present Current units (Present Load on XL430/XC430), shaft direction."""
        with self.lock:
            self._raw_current = float(units)

    def goal_raw_position(self) -> float:
        """Goal Position converted into the physical encoder frame (where the shaft must go)."""
        with self.lock:
            dir_pos = self.regs.get("goal_position") - self.regs.get("homing_offset") - self._turn_offset
            return self.direction * dir_pos

    def goal_raw_velocity(self) -> float:
        with self.lock:
            return self.direction * self.regs.get("goal_velocity")

    def goal_raw_current(self) -> float:
        with self.lock:
            return self.direction * self.regs.get("goal_current") if self.table.has("goal_current") else 0.0

    def goal_raw_pwm(self) -> float:
        with self.lock:
            return self.direction * self.regs.get("goal_pwm")

    def present_from_raw(self, raw: float) -> int:
        return round(self.direction * raw + self._turn_offset + self.regs.get("homing_offset"))

    def refresh(self, now: float) -> None:
        """Recompute the present registers from the physical state (called before a read is answered)."""
        with self.lock:
            r = self.regs
            r.put("present_position", self.present_from_raw(self._raw_position))
            r.put("present_velocity", round(self.direction * self._raw_velocity))
            r.put(
                "present_load" if self.table.has("present_load") else "present_current",
                round(self.direction * self._raw_current),
            )
            r.put("realtime_tick", int(now * 1000) % 32768)
            moving = abs(r.get("present_velocity")) > r.get("moving_threshold")
            r.put("moving", int(moving))

    # ---- hardware errors ----------------------------------------------------------------------
    def raise_hardware_error(self, name: str) -> None:
        """Latch a hardware error bit; if Shutdown (63) selects it, torque drops as on a real motor."""
        if name not in _HW_ERROR_BY_NAME:
            raise ValueError(f"unknown hardware error {name!r}; known: {', '.join(_HW_ERROR_BY_NAME)}")
        bit = 1 << _HW_ERROR_BY_NAME[name]
        with self.lock:
            self.regs.put("hardware_error_status", self.regs.get("hardware_error_status") | bit)
            if self.regs.get("shutdown") & bit:
                self.regs.put("torque_enable", 0)

    def clear_hardware_error(self) -> None:
        with self.lock:
            self.regs.put("hardware_error_status", 0)

    def status_error(self, error: int) -> int:
        """The status packet's error byte: the instruction's error plus the alert bit."""
        return error | (p.ERR_ALERT if self.regs.get("hardware_error_status") else 0)

    @property
    def shut_down(self) -> bool:
        return bool(self.regs.get("hardware_error_status") & self.regs.get("shutdown"))

    # ---- bus writes and firmware events ---------------------------------------------------------
    def check_write(self, address: int, data: bytes):
        error, changes = self.regs.check_write(address, data)
        if not error and self.shut_down and any(r.name == "torque_enable" and v == 1 for r, v in changes):
            return p.ERR_RESULT_FAIL, []  # a shut-down motor keeps torque off until rebooted
        return error, changes

    def apply_write(self, changes) -> list[tuple[str, int]]:
        """Store checked changes and run their side effects; returns (name, value) for listeners."""
        r = self.regs
        torque_was_on = r.get("torque_enable") == 1
        for reg, value in changes:
            r.put(reg.name, value)
        names = {reg.name for reg, _ in changes}
        if "drive_mode" in names or ("operating_mode" in names and r.get("operating_mode") == _POSITION_MODE):
            self._reset_turns()
        if "torque_enable" in names and r.get("torque_enable") == 1 and not torque_was_on:
            if r.get("operating_mode") == _POSITION_MODE:
                self._reset_turns()
            # Torque-on holds the current pose: the firmware sets Goal Position to Present Position.
            r.put("goal_position", self.present_from_raw(self._raw_position))
        return [(reg.name, value) for reg, value in changes]

    def clear_multi_turn(self) -> int:
        if self.regs.get("moving"):
            return p.ERR_RESULT_FAIL
        self._reset_turns()
        return p.ERR_NONE

    def power_on(self) -> None:
        """What a power cycle or Reboot does: RAM back to defaults, encoder re-read, errors cleared."""
        defaults = factory_defaults(self.table)
        for reg in self.table.registers.values():
            if not reg.eeprom:
                self.regs.put(reg.name, defaults.get(reg.name, 0))
        self.registered_write = None
        self._reset_turns()
        self.regs.put("goal_position", self.present_from_raw(self._raw_position))
        self.refresh(0.0)

    def factory_reset(self, option: int) -> None:
        keep_id = self.regs.get("id") if option in (0x01, 0x02) else None
        keep_baud = self.regs.get("baud_rate") if option == 0x02 else None
        self._load_factory()
        if keep_id is not None:
            self.regs.put("id", keep_id)
        if keep_baud is not None:
            self.regs.put("baud_rate", keep_baud)
        self.power_on()

    def _load_factory(self) -> None:
        self.regs.mem[:] = bytes(len(self.regs.mem))
        for name, value in factory_defaults(self.table).items():
            self.regs.put(name, value)

    def _reset_turns(self) -> None:
        resolution = self.table.model.resolution
        self._turn_offset = -math.floor(self.direction * self._raw_position / resolution) * resolution
