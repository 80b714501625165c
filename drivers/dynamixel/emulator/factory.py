"""Factory defaults and accepted value ranges of emulated X-series motors.

Values follow the ROBOTIS e-manual control tables. XM430-W350, XL430-W250 and XH430-W350 were
checked against their tables; for the other models the family values are used, which is close
enough for an emulator (nothing in the stack depends on a gain's factory value).
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.dynamixel.control_table import ControlTable
from robot_stack.rig.motor_catalog import BAUD_RATE_CODES, OPERATING_MODES

FIRMWARE_VERSION = 48  # fast sync/bulk read need v45 or later


@dataclass(frozen=True)
class FactoryProfile:
    temperature_limit: int
    max_voltage_limit: int  # 0.1 V; also the top of the voltage limits' accepted range
    min_voltage_limit: int  # 0.1 V; also the bottom of that range
    velocity_limit: int  # 0.229 rpm
    velocity_gains: tuple[int, int]  # I, P
    position_gains: tuple[int, int, int]  # D, I, P
    nominal_voltage: int  # 0.1 V, what Present Input Voltage reads
    current_limit: int | None = None  # also the top of its accepted range


_ALL_MODES = frozenset(OPERATING_MODES.values())
_NO_CURRENT_MODES = _ALL_MODES - {OPERATING_MODES["current"], OPERATING_MODES["current_position"]}

_XL330 = FactoryProfile(70, 70, 35, 445, (1000, 100), (0, 0, 400), 50, current_limit=1750)
_XC330_T = FactoryProfile(70, 140, 60, 445, (1000, 100), (0, 0, 400), 120, current_limit=910)
_XL430 = FactoryProfile(72, 140, 60, 265, (1000, 100), (0, 0, 640), 120)
_XM430 = FactoryProfile(80, 160, 95, 200, (1920, 100), (0, 0, 800), 120, current_limit=1193)
_XH430 = FactoryProfile(80, 160, 95, 280, (1920, 100), (0, 0, 900), 120, current_limit=648)
_X540 = FactoryProfile(80, 160, 95, 128, (1920, 100), (0, 0, 800), 120, current_limit=2047)

_PROFILES: dict[str, FactoryProfile] = {
    "xl330-m077": _XL330,
    "xl330-m288": _XL330,
    "xc330-m181": _XL330,
    "xc330-m288": _XL330,
    "xc330-t181": _XC330_T,
    "xc330-t288": _XC330_T,
    "xl430-w250": _XL430,
    "xc430-w150": _XL430,
    "xc430-w240": _XL430,
    "xm430-w210": FactoryProfile(80, 160, 95, 330, (1920, 100), (0, 0, 800), 120, current_limit=1193),
    "xm430-w350": _XM430,
    "xh430-w210": FactoryProfile(80, 160, 95, 420, (1920, 100), (0, 0, 900), 120, current_limit=648),
    "xh430-w350": _XH430,
    "xm540-w150": FactoryProfile(80, 160, 95, 230, (1920, 100), (0, 0, 800), 120, current_limit=2047),
    "xm540-w270": _X540,
    "xh540-w150": FactoryProfile(80, 160, 95, 230, (1920, 100), (0, 0, 800), 120, current_limit=2047),
    "xh540-w270": _X540,
}


def profile(table: ControlTable) -> FactoryProfile:
    return _PROFILES[table.model.name]


def operating_modes(table: ControlTable) -> frozenset[int]:
    return _ALL_MODES if table.has("goal_current") else _NO_CURRENT_MODES


def baud_code(table: ControlTable, baud_rate: int) -> int:
    """The Baud Rate (8) code for a rate in bits per second; ValueError if the model cannot do it."""
    for code, rate in BAUD_RATE_CODES.items():
        if rate == baud_rate and rate <= table.model.max_baud_rate:
            return code
    allowed = ", ".join(str(r) for r in BAUD_RATE_CODES.values() if r <= table.model.max_baud_rate)
    raise ValueError(f"{table.model.name} cannot run at {baud_rate} baud; it can do {allowed}")


def factory_defaults(table: ControlTable) -> dict[str, int]:
    """Every register a factory-fresh motor holds that is not zero."""
    p = profile(table)
    values = {
        "model_number": table.model.model_number,
        "firmware_version": FIRMWARE_VERSION,
        "id": 1,
        "baud_rate": 1,  # 57600
        "return_delay_time": 250,  # 500 µs
        "operating_mode": OPERATING_MODES["position"],
        "secondary_id": 255,
        "protocol_type": 2,
        "moving_threshold": 10,
        "temperature_limit": p.temperature_limit,
        "max_voltage_limit": p.max_voltage_limit,
        "min_voltage_limit": p.min_voltage_limit,
        "pwm_limit": 885,
        "velocity_limit": p.velocity_limit,
        "max_position_limit": 4095,
        "min_position_limit": 0,
        "shutdown": 52,  # overheating, electrical shock, overload
        "status_return_level": 2,
        "velocity_i_gain": p.velocity_gains[0],
        "velocity_p_gain": p.velocity_gains[1],
        "position_d_gain": p.position_gains[0],
        "position_i_gain": p.position_gains[1],
        "position_p_gain": p.position_gains[2],
        "present_input_voltage": p.nominal_voltage,
        "present_temperature": 30,
    }
    if p.current_limit is not None and table.has("current_limit"):
        values["current_limit"] = p.current_limit
    return values


EXTENDED_POSITION_RANGE = (-1_048_575, 1_048_575)


def value_range(table: ControlTable, name: str) -> tuple[int, int] | frozenset[int] | None:
    """What a writable register accepts (outside it: Data Range Error); None for 'anything that fits'.

    Goal values are checked against the limit registers separately (Data Limit Error)."""
    p = profile(table)
    max_code = max(c for c, r in BAUD_RATE_CODES.items() if r <= table.model.max_baud_rate)
    ranges: dict[str, tuple[int, int] | frozenset[int]] = {
        "id": (0, 252),
        "baud_rate": (0, max_code),
        "return_delay_time": (0, 254),
        "drive_mode": frozenset({0, 1, 4, 5, 8, 9, 12, 13}),  # bits 0 (reverse), 2 (time profile), 3
        "operating_mode": operating_modes(table),
        "secondary_id": frozenset(range(0, 253)) | {255},
        "protocol_type": frozenset({1, 2}),
        "homing_offset": (-1_044_479, 1_044_479),
        "moving_threshold": (0, 1023),
        "temperature_limit": (0, 100),
        "max_voltage_limit": (p.min_voltage_limit, p.max_voltage_limit),
        "min_voltage_limit": (p.min_voltage_limit, p.max_voltage_limit),
        "pwm_limit": (0, 885),
        "current_limit": (0, p.current_limit or 0),
        "velocity_limit": (0, 2047 if p is _XL330 or p is _XC330_T else 1023),
        "max_position_limit": (0, 4095),
        "min_position_limit": (0, 4095),
        "torque_enable": (0, 1),
        "led": (0, 1),
        "status_return_level": (0, 2),
        "velocity_i_gain": (0, 16383),
        "velocity_p_gain": (0, 16383),
        "position_d_gain": (0, 16383),
        "position_i_gain": (0, 16383),
        "position_p_gain": (0, 16383),
        "feedforward_2nd_gain": (0, 16383),
        "feedforward_1st_gain": (0, 16383),
        "bus_watchdog": (0, 127),
        "goal_position": EXTENDED_POSITION_RANGE,
        "profile_acceleration": (0, 32767),
        "profile_velocity": (0, 32767),
    }
    return ranges.get(name)
