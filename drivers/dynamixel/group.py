"""Group transfers compiled once and repeated every tick: read a block from many motors, write a
register to many motors, each in one bus transaction.

A `GroupReader` picks the instruction from the motors it reads:

- **Fast Sync Read** (0x8A) when every motor has the same register layout and firmware that knows
  the instruction: one combined reply, 8 + N·(L+4) bytes instead of N·(11+L).
- **Sync Read** (0x82) when a model or firmware lacks fast sync read — decided up front from the
  firmware version, and at run time if the motors keep ignoring 0x8A while answering 0x82.
- **Bulk Read** (0x92) when the requested registers sit at different addresses on different models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from dynamixel_sdk import COMM_RX_TIMEOUT

from drivers.dynamixel.control_table import ControlTable, Register
from drivers.dynamixel.transport import AttemptFailed
from drivers.dynamixel.units import decode

if TYPE_CHECKING:
    from drivers.dynamixel.bus import DynamixelBus, Motor

# Fast Sync Read arrived in X-series firmware v45 (v46 on the XL330/XC330 family).
FAST_SYNC_READ_MIN_FIRMWARE = {"xl330": 46, "xc330": 46}
FAST_SYNC_READ_MIN_FIRMWARE_DEFAULT = 45
STATUS_ERROR_INSTRUCTION = 2
FAST_DOWNGRADE_AFTER = 5  # calls in a row where 0x8A got no reply at all while 0x82 worked

# XL430/XC430 report load where other models report current, at the same address and size.
_ALIASES = {"present_current": "present_load", "present_load": "present_current"}
_DTYPES = {
    (1, False): "<u1",
    (1, True): "<i1",
    (2, False): "<u2",
    (2, True): "<i2",
    (4, False): "<u4",
    (4, True): "<i4",
}


def resolve_register(table: ControlTable, name: str) -> Register:
    if table.has(name):
        return table[name]
    alias = _ALIASES.get(name)
    if alias and table.has(alias):
        return table[alias]
    return table[name]  # raises KeyError naming the model and register


def supports_fast_sync_read(table: ControlTable, firmware: int | None) -> bool:
    if not table.fast_sync_read:
        return False
    if firmware is None:
        return True  # not pinged yet; the run-time check below catches an old firmware
    family = table.model.name.split("-")[0]
    return firmware >= FAST_SYNC_READ_MIN_FIRMWARE.get(family, FAST_SYNC_READ_MIN_FIRMWARE_DEFAULT)


class GroupReader:
    """Read the same registers from the same motors, in one transaction per call."""

    def __init__(
        self, bus: DynamixelBus, ids: Sequence[int], registers: Sequence[str], *, fast: bool | None = None
    ):
        if not ids or not registers:
            raise ValueError("a group read needs at least one motor and one register")
        if len(set(ids)) != len(ids):
            raise ValueError(f"motor ids repeat in a group read: {list(ids)}")
        self.bus = bus
        self.ids = list(ids)
        self.registers = list(registers)
        tables = [bus.table(i) for i in self.ids]
        self._layouts = [[resolve_register(t, name) for name in self.registers] for t in tables]
        self._spans = [
            (min(r.address for r in regs), max(r.address + r.size for r in regs)) for regs in self._layouts
        ]
        shapes = {tuple((r.address, r.size) for r in regs) for regs in self._layouts}
        self.uniform = len(shapes) == 1
        start, end = self._spans[0]
        self.address, self.length = start, end - start
        self._fields = [
            (r.address - start, r.size, np.dtype(_DTYPES[(r.size, r.signed)])) for r in self._layouts[0]
        ]
        capable = all(
            supports_fast_sync_read(t, bus.firmware.get(i)) for t, i in zip(tables, self.ids, strict=True)
        )
        self.fast = self.uniform and (capable if fast is None else fast)
        self.downgraded: str | None = None  # why fast sync read was abandoned, if it was
        self._fast_silent_calls = 0
        names = ", ".join(self.registers)
        self._what = f"reading {names} of motors {', '.join(str(i) for i in self.ids)}"

    @property
    def mode(self) -> str:
        return "fast_sync_read" if self.fast else ("sync_read" if self.uniform else "bulk_read")

    def read(self) -> tuple[np.ndarray, float]:
        """Values as an (n_motors, n_registers) int64 array, and the host time the last reply byte arrived."""
        if not self.uniform:
            replies, t = self._read_bulk()
            out = np.empty((len(self.ids), len(self.registers)), np.int64)
            for i, motor_id in enumerate(self.ids):
                data = replies[motor_id][1]
                lo = self._spans[i][0]
                for j, reg in enumerate(self._layouts[i]):
                    out[i, j] = decode(reg, data, reg.address - lo)
            return out, t
        replies, t = self._read_uniform()
        buf = b"".join(replies[i][1] for i in self.ids)
        raw = np.frombuffer(buf, np.uint8).reshape(len(self.ids), self.length)
        out = np.empty((len(self.ids), len(self.registers)), np.int64)
        for j, (offset, size, dtype) in enumerate(self._fields):
            out[:, j] = raw[:, offset : offset + size].copy().view(dtype)[:, 0]
        return out, t

    def _check(self, replies: dict[int, tuple[int, bytes]]) -> None:
        for motor_id, (error, _) in replies.items():
            if error & 0x7F:
                self.bus.check_status(motor_id, error, f"reading {', '.join(self.registers)}")

    def _read_uniform(self):
        bus = self.bus
        transport = bus.transport
        done: dict[int, tuple[int, bytes]] = {}
        state = {"fast": self.fast, "fast_silent": False}

        def attempt():
            if state["fast"]:
                try:
                    replies, t = transport.fast_sync_read(self.ids, self.address, self.length)
                except AttemptFailed as failed:
                    # Retry this call with plain sync read: it can keep the replies that did arrive.
                    state["fast"] = False
                    state["fast_silent"] = failed.result == COMM_RX_TIMEOUT and failed.motor_id is None
                    raise
                if any(e & 0x7F == STATUS_ERROR_INSTRUCTION for e, _ in replies.values()):
                    self._downgrade("the motors answered fast sync read with an instruction error")
                    state["fast"] = False
                    raise AttemptFailed(0, None, status_error=STATUS_ERROR_INSTRUCTION)
                self._check(replies)
                done.update(replies)
                return t
            remaining = [i for i in self.ids if i not in done]
            try:
                replies, t = transport.sync_read(remaining, self.address, self.length)
            except AttemptFailed as failed:
                done.update(failed.partial)
                raise
            self._check(replies)
            done.update(replies)
            return t

        t = bus.with_retries(self._what, attempt, self.ids)
        if self.fast:
            if state["fast_silent"] and not state["fast"]:
                self._fast_silent_calls += 1
                if self._fast_silent_calls >= FAST_DOWNGRADE_AFTER:
                    self._downgrade("the motors ignored fast sync read but answered sync read")
            else:
                self._fast_silent_calls = 0
        bus.process_alerts((i, done[i][0]) for i in self.ids)
        return done, t

    def _downgrade(self, reason: str) -> None:
        self.fast = False
        self.downgraded = reason

    def _read_bulk(self):
        requests = [(i, lo, hi - lo) for i, (lo, hi) in zip(self.ids, self._spans, strict=True)]
        return _bulk(self.bus, requests, self._what, self._check)


def _bulk(bus: DynamixelBus, requests, what: str, check):
    done: dict[int, tuple[int, bytes]] = {}

    def attempt():
        remaining = [r for r in requests if r[0] not in done]
        try:
            replies, t = bus.transport.bulk_read(remaining)
        except AttemptFailed as failed:
            done.update(failed.partial)
            raise
        check(replies)
        done.update(replies)
        return t

    t = bus.with_retries(what, attempt, [r[0] for r in requests])
    bus.process_alerts((r[0], done[r[0]][0]) for r in requests)
    return done, t


def bulk_read(bus: DynamixelBus, requests: dict[Motor, str]) -> dict[Motor, int]:
    """Different registers from different motors, one Bulk Read instruction."""
    plan = []
    for motor, name in requests.items():
        motor_id = bus.motor_id(motor)
        plan.append((motor, motor_id, resolve_register(bus.table(motor_id), name)))

    def check(replies):
        for motor_id, (error, _) in replies.items():
            if error & 0x7F:
                bus.check_status(motor_id, error, "a bulk read")

    what = "bulk read of " + ", ".join(
        f"{name} of {bus.label(bus.motor_id(m))}" for m, name in requests.items()
    )
    done, _ = _bulk(bus, [(i, reg.address, reg.size) for _, i, reg in plan], what, check)
    return {motor: decode(reg, done[i][1]) for motor, i, reg in plan}


class GroupWriter:
    """Write one register on many motors in one Sync Write (no replies, so nothing to retry on
    the wire; the values are checked before they leave)."""

    def __init__(self, bus: DynamixelBus, ids: Sequence[int], register: str):
        self.bus = bus
        self.ids = list(ids)
        self.register = register
        regs = {
            (r.address, r.size, r.signed)
            for r in (resolve_register(bus.table(i), register) for i in self.ids)
        }
        if len(regs) != 1:
            raise ValueError(f"{register} sits at different addresses on these motors; write them one by one")
        self.address, self.size, signed = regs.pop()
        reg = resolve_register(bus.table(self.ids[0]), register)
        if not reg.writable:
            raise ValueError(f"{register} is read-only")
        bits = 8 * self.size
        self.lo, self.hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        self._id_column = np.array(self.ids, np.uint8)[:, None]

    def write(self, values: Sequence[float] | np.ndarray) -> None:
        v = np.asarray(values, dtype=np.float64)
        if v.shape != (len(self.ids),):
            raise ValueError(f"{self.register}: expected {len(self.ids)} values, got shape {v.shape}")
        bad = ~np.isfinite(v)
        iv = np.rint(np.where(bad, 0, v)).astype(np.int64)
        bad |= (iv < self.lo) | (iv > self.hi)
        if bad.any():
            which = ", ".join(f"{self.bus.label(self.ids[i])}={v[i]}" for i in np.flatnonzero(bad))
            raise ValueError(f"refusing to write {self.register}: out of range or not finite: {which}")
        data = iv.astype("<i8").view(np.uint8).reshape(len(self.ids), 8)[:, : self.size]
        param = np.concatenate([self._id_column, data], axis=1).ravel().tolist()
        self.bus.with_retries(
            f"writing {self.register} to motors {', '.join(str(i) for i in self.ids)}",
            lambda: self.bus.transport.sync_write(self.address, self.size, param),
            [],
        )
