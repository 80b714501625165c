"""One motor's control table memory: typed access by register name, and the bus write rules.

The rules follow the X-series firmware: a write must cover whole registers that exist and are
writable (else Access / Data Length Error), EEPROM is locked while torque is on (Access Error),
values outside a register's range give Data Range Error and goal values beyond the limit registers
give Data Limit Error. A rejected write changes nothing.
"""

from __future__ import annotations

from drivers.dynamixel import protocol as p
from drivers.dynamixel.control_table import ControlTable, Register
from drivers.dynamixel.emulator.factory import value_range
from robot_stack.rig.motor_catalog import OPERATING_MODES

_POSITION_MODE = OPERATING_MODES["position"]


_OWNERS: dict[str, tuple[Register | None, ...]] = {}


def _byte_owner(table: ControlTable) -> tuple[Register | None, ...]:
    """For each address, the register that holds that byte (None in reserved gaps)."""
    owner = _OWNERS.get(table.model.name)
    if owner is None:
        slots: list[Register | None] = [None] * table.size
        for reg in table.registers.values():
            for a in range(reg.address, reg.address + reg.size):
                slots[a] = reg
        owner = _OWNERS[table.model.name] = tuple(slots)
    return owner


def decode(reg: Register, raw: bytes | bytearray) -> int:
    return int.from_bytes(raw, "little", signed=reg.signed)


def encode(reg: Register, value: int) -> bytes:
    return (int(value) & ((1 << (8 * reg.size)) - 1)).to_bytes(reg.size, "little")


class RegisterFile:
    """A bytearray the size of the control table, with the firmware's access rules."""

    def __init__(self, table: ControlTable):
        self.table = table
        self.mem = bytearray(table.size)
        self._owner = _byte_owner(table)

    def get(self, name: str) -> int:
        reg = self.table[name]
        return decode(reg, self.mem[reg.address : reg.address + reg.size])

    def put(self, name: str, value: int) -> None:
        """Store without any rule: for the firmware itself and for the physics side."""
        reg = self.table[name]
        self.mem[reg.address : reg.address + reg.size] = encode(reg, value)

    def read(self, address: int, length: int) -> tuple[int, bytes]:
        """(error, data) for a bus read. Reserved bytes inside the table read as 0, like the real one."""
        if length < 1 or address < 0 or address + length > len(self.mem):
            return p.ERR_ACCESS, b""
        return p.ERR_NONE, bytes(self.mem[address : address + length])

    def check_write(self, address: int, data: bytes) -> tuple[int, list[tuple[Register, int]]]:
        """(error, [(register, new value)...]) for a bus write, without applying it."""
        end = address + len(data)
        if not data or address < 0 or end > len(self.mem):
            return p.ERR_ACCESS, []
        torque_on = self.get("torque_enable") == 1
        changes: list[tuple[Register, int]] = []
        a = address
        while a < end:
            reg = self._owner[a]
            if reg is None or not reg.writable:
                return p.ERR_ACCESS, []
            if reg.address != a or reg.address + reg.size > end:
                return p.ERR_DATA_LENGTH, []
            if reg.eeprom and torque_on:
                return p.ERR_ACCESS, []
            changes.append((reg, decode(reg, data[a - address : a - address + reg.size])))
            a += reg.size
        for reg, value in changes:
            allowed = value_range(self.table, reg.name)
            if isinstance(allowed, frozenset) and value not in allowed:
                return p.ERR_DATA_RANGE, []
            if isinstance(allowed, tuple) and not allowed[0] <= value <= allowed[1]:
                return p.ERR_DATA_RANGE, []
        pending = {reg.name: value for reg, value in changes}
        if not self._within_limits(pending):
            return p.ERR_DATA_LIMIT, []
        return p.ERR_NONE, changes

    def _within_limits(self, pending: dict[str, int]) -> bool:
        """Goal values against the limit registers (those being written in the same packet count)."""

        def current(name: str) -> int:
            return pending[name] if name in pending else self.get(name)

        if "goal_position" in pending and current("operating_mode") == _POSITION_MODE:
            if not current("min_position_limit") <= pending["goal_position"] <= current("max_position_limit"):
                return False
        for goal, limit in (
            ("goal_velocity", "velocity_limit"),
            ("goal_pwm", "pwm_limit"),
            ("goal_current", "current_limit"),
            ("profile_velocity", "velocity_limit"),
        ):
            if goal in pending and self.table.has(limit) and abs(pending[goal]) > current(limit):
                return False
        return True
