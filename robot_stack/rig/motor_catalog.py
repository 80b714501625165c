"""The Dynamixel X-series models a rig file may name, with the facts every wing agrees on.

Register addresses live with the driver (drivers/dynamixel/control_table.py); this catalog holds
only what the rig description and the calibration need to reason about a motor without a bus.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MotorModel:
    name: str
    model_number: int
    resolution: int  # encoder ticks per revolution
    max_baud_rate: int
    has_current_sensing: bool  # XL430/XC430 report load (0.1 %), not current
    current_unit_ma: (
        float | None
    )  # mA per Goal/Present Current unit; None where the model has no current control


_KNOWN = [
    MotorModel("xl330-m077", 1190, 4096, 4_000_000, True, 1.0),
    MotorModel("xl330-m288", 1200, 4096, 4_000_000, True, 1.0),
    MotorModel("xc330-m181", 1210, 4096, 4_000_000, True, 1.0),
    MotorModel("xc330-m288", 1220, 4096, 4_000_000, True, 1.0),
    MotorModel("xc330-t181", 1230, 4096, 4_000_000, True, 1.0),
    MotorModel("xc330-t288", 1240, 4096, 4_000_000, True, 1.0),
    MotorModel("xl430-w250", 1060, 4096, 4_500_000, False, None),
    MotorModel("xc430-w150", 1070, 4096, 4_500_000, False, None),
    MotorModel("xc430-w240", 1080, 4096, 4_500_000, False, None),
    MotorModel("xm430-w210", 1030, 4096, 4_500_000, True, 2.69),
    MotorModel("xm430-w350", 1020, 4096, 4_500_000, True, 2.69),
    MotorModel("xh430-w210", 1010, 4096, 4_500_000, True, 2.69),
    MotorModel("xh430-w350", 1000, 4096, 4_500_000, True, 2.69),
    MotorModel("xm540-w150", 1130, 4096, 4_500_000, True, 2.69),
    MotorModel("xm540-w270", 1120, 4096, 4_500_000, True, 2.69),
    MotorModel("xh540-w150", 1110, 4096, 4_500_000, True, 2.69),
    MotorModel("xh540-w270", 1100, 4096, 4_500_000, True, 2.69),
]

MOTOR_MODELS: dict[str, MotorModel] = {m.name: m for m in _KNOWN}
MOTOR_MODELS_BY_NUMBER: dict[int, MotorModel] = {m.model_number: m for m in _KNOWN}

# Baud rates an X-series motor can be set to (register 8 code → bits per second).
BAUD_RATE_CODES: dict[int, int] = {
    0: 9_600,
    1: 57_600,
    2: 115_200,
    3: 1_000_000,
    4: 2_000_000,
    5: 3_000_000,
    6: 4_000_000,
    7: 4_500_000,
}
BAUD_RATES: tuple[int, ...] = tuple(BAUD_RATE_CODES.values())

# Operating Mode register (11) values, by the names a rig file uses.
OPERATING_MODES: dict[str, int] = {
    "current": 0,
    "velocity": 1,
    "position": 3,
    "extended_position": 4,
    "current_position": 5,
    "pwm": 16,
}
CURRENT_MODES = frozenset({"current", "current_position"})
