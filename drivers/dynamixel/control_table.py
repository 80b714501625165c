"""Dynamixel X-series control tables (Protocol 2.0): where each register lives, per motor model.

All X-series models share one layout; they differ in which registers exist. XL430/XC430 have no
current control (no Current Limit, no Goal Current) and report Present Load at the address where the
others report Present Current (126). Model facts (names, model numbers, resolution, units) come from
the rig's motor catalog; this module only adds addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from robot_stack.rig.motor_catalog import MOTOR_MODELS, MOTOR_MODELS_BY_NUMBER, MotorModel


@dataclass(frozen=True)
class Register:
    name: str
    address: int
    size: int  # bytes: 1, 2 or 4
    writable: bool
    eeprom: bool  # EEPROM registers are write-locked while torque is on
    signed: bool


@dataclass(frozen=True)
class ControlTable:
    model: MotorModel
    registers: dict[str, Register]  # by snake_case name
    fast_sync_read: bool  # supports instruction 0x8A (and fast bulk read 0x9A)

    def __getitem__(self, name: str) -> Register:
        try:
            return self.registers[name]
        except KeyError:
            raise KeyError(f"{self.model.name} has no register {name!r}") from None

    def has(self, name: str) -> bool:
        return name in self.registers

    @property
    def size(self) -> int:
        """Bytes from address 0 to the end of the last register."""
        return max(r.address + r.size for r in self.registers.values())

    def at_address(self, address: int) -> Register | None:
        """The register that starts at `address`, if any."""
        return next((r for r in self.registers.values() if r.address == address), None)


# (name, address, size, writable, signed); EEPROM is everything below address 64.
_COMMON: tuple[tuple[str, int, int, bool, bool], ...] = (
    ("model_number", 0, 2, False, False),
    ("model_information", 2, 4, False, False),
    ("firmware_version", 6, 1, False, False),
    ("id", 7, 1, True, False),
    ("baud_rate", 8, 1, True, False),
    ("return_delay_time", 9, 1, True, False),
    ("drive_mode", 10, 1, True, False),
    ("operating_mode", 11, 1, True, False),
    ("secondary_id", 12, 1, True, False),
    ("protocol_type", 13, 1, True, False),
    ("homing_offset", 20, 4, True, True),
    ("moving_threshold", 24, 4, True, False),
    ("temperature_limit", 31, 1, True, False),
    ("max_voltage_limit", 32, 2, True, False),
    ("min_voltage_limit", 34, 2, True, False),
    ("pwm_limit", 36, 2, True, False),
    ("velocity_limit", 44, 4, True, False),
    ("max_position_limit", 48, 4, True, False),
    ("min_position_limit", 52, 4, True, False),
    ("shutdown", 63, 1, True, False),
    ("torque_enable", 64, 1, True, False),
    ("led", 65, 1, True, False),
    ("status_return_level", 68, 1, True, False),
    ("registered_instruction", 69, 1, False, False),
    ("hardware_error_status", 70, 1, False, False),
    ("velocity_i_gain", 76, 2, True, False),
    ("velocity_p_gain", 78, 2, True, False),
    ("position_d_gain", 80, 2, True, False),
    ("position_i_gain", 82, 2, True, False),
    ("position_p_gain", 84, 2, True, False),
    ("feedforward_2nd_gain", 88, 2, True, False),
    ("feedforward_1st_gain", 90, 2, True, False),
    ("bus_watchdog", 98, 1, True, True),  # -1 means "watchdog tripped"
    ("goal_pwm", 100, 2, True, True),
    ("goal_velocity", 104, 4, True, True),
    ("profile_acceleration", 108, 4, True, False),
    ("profile_velocity", 112, 4, True, False),
    ("goal_position", 116, 4, True, True),
    ("realtime_tick", 120, 2, False, False),
    ("moving", 122, 1, False, False),
    ("moving_status", 123, 1, False, False),
    ("present_pwm", 124, 2, False, True),
    ("present_velocity", 128, 4, False, True),
    ("present_position", 132, 4, False, True),
    ("velocity_trajectory", 136, 4, False, True),
    ("position_trajectory", 140, 4, False, True),
    ("present_input_voltage", 144, 2, False, False),
    ("present_temperature", 146, 1, False, False),
)

_CURRENT_CONTROL = (
    ("current_limit", 38, 2, True, False),
    ("goal_current", 102, 2, True, True),
    ("present_current", 126, 2, False, True),
)
_LOAD_ONLY = (("present_load", 126, 2, False, True),)

EEPROM_END = 64  # addresses below this are EEPROM


def _build(model: MotorModel) -> ControlTable:
    rows = _COMMON + (_CURRENT_CONTROL if model.current_unit_ma is not None else _LOAD_ONLY)
    registers = {
        name: Register(name, address, size, writable, address < EEPROM_END, signed)
        for name, address, size, writable, signed in sorted(rows, key=lambda r: r[1])
    }
    # Every X-series model in the catalog supports fast sync/bulk read from firmware v45 on; the
    # emulator reports a firmware version at or above that.
    return ControlTable(model=model, registers=registers, fast_sync_read=True)


@cache
def control_table(model_name: str) -> ControlTable:
    key = model_name.strip().lower()
    if key not in MOTOR_MODELS:
        known = ", ".join(sorted(MOTOR_MODELS))
        raise KeyError(f"unknown Dynamixel model {model_name!r}; known models: {known}")
    return _build(MOTOR_MODELS[key])


def control_table_for_number(model_number: int) -> ControlTable:
    model = MOTOR_MODELS_BY_NUMBER.get(model_number)
    if model is None:
        raise KeyError(f"unknown Dynamixel model number {model_number}")
    return control_table(model.name)


HARDWARE_ERROR_BITS: dict[int, str] = {
    0: "input_voltage",
    2: "overheating",
    3: "motor_encoder",
    4: "electrical_shock",
    5: "overload",
}


def decode_hardware_error(status: int) -> list[str]:
    """Names of the hardware error bits set in a Hardware Error Status (70) value, low bit first."""
    return [name for bit, name in sorted(HARDWARE_ERROR_BITS.items()) if status & (1 << bit)]
