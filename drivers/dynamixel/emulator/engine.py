"""What the motors on one chain do with an instruction packet: pure protocol, no I/O, no timing.

`ProtocolEngine.handle(packet, host_baud)` executes the instruction on every motor that hears it and
returns the status packets in the order they would follow each other on the bus. Timing, faults
and the pty live in the chain; this module only knows Protocol 2.0 and the X-series firmware rules.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from drivers.dynamixel import protocol as p
from drivers.dynamixel.emulator.motor import EmulatedMotor

BeforeReply = Callable[[list[int]], None]  # ids of the motors about to answer a read
WriteEvent = tuple[int, str, int]  # (motor id, register name, value)

_CLEAR_MULTI_TURN = bytes([0x01, 0x44, 0x58, 0x4C, 0x22])
_READ_INSTRUCTIONS = {p.READ, p.SYNC_READ, p.FAST_SYNC_READ, p.BULK_READ, p.FAST_BULK_READ}


@dataclass
class Reply:
    """One status packet and the motor that sends it (its return delay applies before it)."""

    motor: EmulatedMotor
    packet: bytes


class ProtocolEngine:
    def __init__(
        self,
        motors: list[EmulatedMotor],
        lock: threading.RLock,
        is_silent: Callable[[int], bool],
        default_baud: int,
    ):
        self.motors = motors
        self.lock = lock
        self._is_silent = is_silent
        self._default_baud = default_baud
        self.before_reply: BeforeReply | None = None
        self.motion: Callable[[list[EmulatedMotor], float], None] | None = None
        self.writes: list[WriteEvent] = []  # filled while handling; the chain hands them to listeners

    # ---- who hears ----------------------------------------------------------------------------
    def listening(self, host_baud: int | None) -> list[EmulatedMotor]:
        baud = host_baud or self._default_baud
        return [
            m
            for m in self.motors
            if m.baud_rate == baud and m.get("protocol_type") == 2 and not self._is_silent(m.id)
        ]

    @staticmethod
    def _answers(motor: EmulatedMotor, instruction: int) -> bool:
        level = motor.get("status_return_level")
        return instruction == p.PING or level == 2 or (level == 1 and instruction in _READ_INSTRUCTIONS)

    @staticmethod
    def _status(motor_id: int, motor: EmulatedMotor, error: int, params: bytes = b"") -> bytes:
        return p.status_packet(motor_id, motor.status_error(error), params)

    def _refresh(self, motors: Iterable[EmulatedMotor]) -> None:
        now = time.monotonic()
        for m in motors:
            m.refresh(now)

    # ---- entry point ---------------------------------------------------------------------------
    def handle(self, pkt: p.Packet, host_baud: int | None) -> list[Reply]:
        """Execute one instruction packet; return the status packets in bus order."""
        if self.before_reply is not None and pkt.crc_ok:
            known = {m.id for m in self.motors}
            ids = [i for i in _ids_read(pkt) if i in known]
            if ids:
                # Outside the lock: the physics may take its own locks and call back into the motors.
                self.before_reply(ids)
        with self.lock:
            if self.motion is not None:
                self.motion(self.motors, time.monotonic())
            motors = self.listening(host_baud)
            broadcast = pkt.id == p.BROADCAST_ID
            targets = motors if broadcast else [m for m in motors if m.id == pkt.id]
            if not pkt.crc_ok:
                return (
                    []
                    if broadcast
                    else [
                        Reply(m, self._status(m.id, m, p.ERR_CRC))
                        for m in targets
                        if m.get("status_return_level") == 2
                    ]
                )
            if pkt.instruction in _BROADCAST_ONLY:
                return _BROADCAST_ONLY[pkt.instruction](self, pkt, motors) if broadcast else []
            handler = _UNICAST.get(pkt.instruction)
            replies: list[Reply] = []
            for m in sorted(targets, key=lambda m: m.id):
                motor_id = m.id  # the reply goes out under the ID the packet was addressed to
                after = None
                if handler is None:
                    error, params = p.ERR_INSTRUCTION, b""
                else:
                    error, params, after = handler(self, m, pkt, broadcast)
                status = self._status(motor_id, m, error, params)
                if (not broadcast or pkt.instruction == p.PING) and self._answers(m, pkt.instruction):
                    replies.append(Reply(m, status))
                if after is not None:
                    after()  # reboot / factory reset take effect once the status packet is out
            return replies

    # ---- unicast-capable instructions: (error, params, action after reply) -----------------------
    def _ping(self, m: EmulatedMotor, pkt: p.Packet, broadcast: bool):
        number = m.get("model_number")
        return p.ERR_NONE, bytes([number & 0xFF, number >> 8, m.get("firmware_version")]), None

    def _read(self, m: EmulatedMotor, pkt: p.Packet, broadcast: bool):
        if broadcast or len(pkt.params) != 4:
            return p.ERR_INSTRUCTION, b"", None
        address, length = _u16(pkt.params, 0), _u16(pkt.params, 2)
        self._refresh([m])
        error, data = m.regs.read(address, length)
        return error, data, None

    def _write(self, m: EmulatedMotor, pkt: p.Packet, broadcast: bool):
        if len(pkt.params) < 3:
            return p.ERR_INSTRUCTION, b"", None
        return self._write_bytes(m, _u16(pkt.params, 0), pkt.params[2:]), b"", None

    def _reg_write(self, m: EmulatedMotor, pkt: p.Packet, broadcast: bool):
        if len(pkt.params) < 3:
            return p.ERR_INSTRUCTION, b"", None
        address, data = _u16(pkt.params, 0), pkt.params[2:]
        error, _ = m.check_write(address, data)
        if not error:
            m.registered_write = (address, data)
            m.regs.put("registered_instruction", 1)
        return error, b"", None

    def _action(self, m: EmulatedMotor, pkt: p.Packet, broadcast: bool):
        if m.registered_write is None:
            return (p.ERR_NONE if broadcast else p.ERR_INSTRUCTION), b"", None
        address, data = m.registered_write
        m.registered_write = None
        m.regs.put("registered_instruction", 0)
        return self._write_bytes(m, address, data), b"", None

    def _factory_reset(self, m: EmulatedMotor, pkt: p.Packet, broadcast: bool):
        option = pkt.params[0] if len(pkt.params) == 1 else None
        if option not in (0x01, 0x02, 0xFF):
            return p.ERR_DATA_RANGE, b"", None
        if broadcast and option == 0xFF:
            return p.ERR_NONE, b"", None  # firmware refuses to give every motor ID 1 at once
        return p.ERR_NONE, b"", lambda: m.factory_reset(option)

    def _reboot(self, m: EmulatedMotor, pkt: p.Packet, broadcast: bool):
        return p.ERR_NONE, b"", m.power_on

    def _clear(self, m: EmulatedMotor, pkt: p.Packet, broadcast: bool):
        if pkt.params != _CLEAR_MULTI_TURN:
            return p.ERR_DATA_RANGE, b"", None
        self._refresh([m])
        return m.clear_multi_turn(), b"", None

    def _write_bytes(self, m: EmulatedMotor, address: int, data: bytes) -> int:
        error, changes = m.check_write(address, data)
        if not error:
            motor_id = m.id
            self.writes.extend((motor_id, name, value) for name, value in m.apply_write(changes))
        return error

    # ---- broadcast-only group instructions ------------------------------------------------------
    def _sync_read(self, pkt: p.Packet, motors: list[EmulatedMotor], fast: bool = False):
        if len(pkt.params) < 5:
            return []
        address, length = _u16(pkt.params, 0), _u16(pkt.params, 2)
        return self._group_read([(i, address, length) for i in pkt.params[4:]], motors, fast)

    def _fast_sync_read(self, pkt: p.Packet, motors: list[EmulatedMotor]):
        return self._sync_read(pkt, motors, fast=True)

    def _bulk_read(self, pkt: p.Packet, motors: list[EmulatedMotor], fast: bool = False):
        params = pkt.params
        if not params or len(params) % 5:
            return []
        requests = [(params[i], _u16(params, i + 1), _u16(params, i + 3)) for i in range(0, len(params), 5)]
        return self._group_read(requests, motors, fast)

    def _fast_bulk_read(self, pkt: p.Packet, motors: list[EmulatedMotor]):
        return self._bulk_read(pkt, motors, fast=True)

    def _group_read(self, requests: list[tuple[int, int, int]], motors: list[EmulatedMotor], fast: bool):
        by_id = {m.id: m for m in motors}
        present = [by_id[i] for i, _, _ in requests if i in by_id]
        self._refresh(present)
        answers: list[tuple[EmulatedMotor | None, int, int, bytes]] = []
        for motor_id, address, length in requests:
            m = by_id.get(motor_id)
            if m is None or not self._answers(m, p.SYNC_READ):
                answers.append((None, motor_id, 0, bytes(length)))
                continue
            error, data = m.regs.read(address, length)
            answers.append((m, motor_id, m.status_error(error), data))
        if fast:
            return fast_read_reply(answers)
        return [Reply(m, p.status_packet(i, err, data)) for m, i, err, data in answers if m is not None]

    def _sync_write(self, pkt: p.Packet, motors: list[EmulatedMotor]):
        params = pkt.params
        if len(params) < 4:
            return []
        address, length = _u16(params, 0), _u16(params, 2)
        if length == 0 or (len(params) - 4) % (length + 1):
            return []
        by_id = {m.id: m for m in motors}
        for i in range(4, len(params), length + 1):
            if params[i] in by_id:
                self._write_bytes(by_id[params[i]], address, params[i + 1 : i + 1 + length])
        return []

    def _bulk_write(self, pkt: p.Packet, motors: list[EmulatedMotor]):
        params, i = pkt.params, 0
        by_id = {m.id: m for m in motors}
        while i + 5 <= len(params):
            motor_id, address, length = params[i], _u16(params, i + 1), _u16(params, i + 3)
            data = params[i + 5 : i + 5 + length]
            if len(data) < length:
                break
            if motor_id in by_id:
                self._write_bytes(by_id[motor_id], address, data)
            i += 5 + length
        return []


def fast_read_reply(answers: list[tuple[EmulatedMotor | None, int, int, bytes]]) -> list[Reply]:
    """The one combined status packet of a fast sync/bulk read.

    Layout as the SDK parses it: header, ID 0xFE, LEN, 0x55, then per motor ERR, ID, DATA, CRC, where
    the last motor's CRC is the packet's CRC (8 + sum(L + 4) bytes in all). The other motors' CRC fields
    carry the running CRC of the unstuffed packet up to them; the SDK checks only the last. A motor
    that is not on the bus leaves its segment out, so the packet is shorter than its LEN says and the
    host times out, as it would on a real chain.
    """
    present = [a for a in answers if a[0] is not None]
    if not present:
        return []
    claimed = 1 + sum(len(data) + 4 for _, _, _, data in answers)
    head = p.HEADER + bytes([p.BROADCAST_ID, claimed & 0xFF, claimed >> 8])
    body = bytearray([p.STATUS])
    for k, (_, motor_id, error, data) in enumerate(present):
        body += bytes([error, motor_id]) + data
        if k < len(present) - 1:
            crc = p.crc16(head + body)
            body += bytes([crc & 0xFF, crc >> 8])
    stuffed = p.stuff(body)
    length = claimed + len(stuffed) - len(body)
    packet = p.HEADER + bytes([p.BROADCAST_ID, length & 0xFF, length >> 8]) + stuffed
    crc = p.crc16(packet)
    return [Reply(present[0][0], packet + bytes([crc & 0xFF, crc >> 8]))]


def _u16(data: bytes, i: int) -> int:
    return data[i] | (data[i + 1] << 8)


def _ids_read(pkt: p.Packet) -> list[int]:
    """IDs whose present values a packet is about to read."""
    if pkt.instruction == p.READ and pkt.id != p.BROADCAST_ID:
        return [pkt.id]
    if pkt.instruction in (p.SYNC_READ, p.FAST_SYNC_READ):
        return list(pkt.params[4:])
    if pkt.instruction in (p.BULK_READ, p.FAST_BULK_READ):
        return list(pkt.params[0::5])
    return []


_UNICAST = {
    p.PING: ProtocolEngine._ping,
    p.READ: ProtocolEngine._read,
    p.WRITE: ProtocolEngine._write,
    p.REG_WRITE: ProtocolEngine._reg_write,
    p.ACTION: ProtocolEngine._action,
    p.FACTORY_RESET: ProtocolEngine._factory_reset,
    p.REBOOT: ProtocolEngine._reboot,
    p.CLEAR: ProtocolEngine._clear,
}
_BROADCAST_ONLY = {
    p.SYNC_READ: ProtocolEngine._sync_read,
    p.FAST_SYNC_READ: ProtocolEngine._fast_sync_read,
    p.SYNC_WRITE: ProtocolEngine._sync_write,
    p.BULK_READ: ProtocolEngine._bulk_read,
    p.FAST_BULK_READ: ProtocolEngine._fast_bulk_read,
    p.BULK_WRITE: ProtocolEngine._bulk_write,
}
