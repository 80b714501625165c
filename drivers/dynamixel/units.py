"""Register values: raw bytes ↔ integers (with sign) ↔ physical units.

Positions stay in encoder ticks here: turning ticks into joint radians needs each arm's homing and
direction, which is calibration's job (calibration/). Everything else has a fixed scale per model.
"""

from __future__ import annotations

from drivers.dynamixel.control_table import ControlTable, Register
from robot_stack.rig.motor_catalog import BAUD_RATE_CODES

# register → (scale per raw unit, unit), for registers whose scale is the same on every X-series model.
_FIXED_UNITS: dict[str, tuple[float, str]] = {
    "present_velocity": (0.229, "rev/min"),
    "goal_velocity": (0.229, "rev/min"),
    "velocity_limit": (0.229, "rev/min"),
    "profile_velocity": (0.229, "rev/min"),
    "velocity_trajectory": (0.229, "rev/min"),
    "profile_acceleration": (214.577, "rev/min²"),
    "present_input_voltage": (0.1, "V"),
    "max_voltage_limit": (0.1, "V"),
    "min_voltage_limit": (0.1, "V"),
    "present_temperature": (1.0, "°C"),
    "temperature_limit": (1.0, "°C"),
    "present_load": (0.1, "%"),
    "present_pwm": (100.0 / 885.0, "%"),
    "goal_pwm": (100.0 / 885.0, "%"),
    "pwm_limit": (100.0 / 885.0, "%"),
    "return_delay_time": (2.0, "µs"),
}
_CURRENT_REGISTERS = ("present_current", "goal_current", "current_limit")


def to_signed(raw: int, size: int) -> int:
    bits = 8 * size
    return raw - (1 << bits) if raw & (1 << (bits - 1)) else raw


def decode(register: Register, data: bytes | bytearray | list[int], offset: int = 0) -> int:
    raw = int.from_bytes(bytes(data[offset : offset + register.size]), "little")
    return to_signed(raw, register.size) if register.signed else raw


def encode(register: Register, value: int) -> list[int]:
    """Little-endian bytes of `value`; raises ValueError when it does not fit the register."""
    value = int(value)
    bits = 8 * register.size
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if register.signed else (0, (1 << bits) - 1)
    if not lo <= value <= hi:
        raise ValueError(f"{value} does not fit {register.name} ({register.size} bytes, range {lo}..{hi})")
    return list((value & ((1 << bits) - 1)).to_bytes(register.size, "little"))


def unit_of(table: ControlTable, name: str) -> tuple[float, str] | None:
    """(scale, unit) of a register on this model, or None where raw is the natural unit (ticks, flags)."""
    if name in _CURRENT_REGISTERS:
        if table.model.current_unit_ma is None:
            return None
        return (table.model.current_unit_ma, "mA")
    return _FIXED_UNITS.get(name)


def to_units(table: ControlTable, name: str, raw: int) -> float | int:
    if name == "baud_rate":
        return BAUD_RATE_CODES.get(raw, raw)
    scale = unit_of(table, name)
    return raw if scale is None else raw * scale[0]


def from_units(table: ControlTable, name: str, value: float) -> int:
    if name == "baud_rate":
        codes = {bps: code for code, bps in BAUD_RATE_CODES.items()}
        if int(value) not in codes:
            raise ValueError(f"{value} is not a baud rate an X-series motor supports")
        return codes[int(value)]
    scale = unit_of(table, name)
    return int(value) if scale is None else int(round(value / scale[0]))
