"""Dynamixel Protocol 2.0 framing: CRC-16, byte stuffing, packet building and stream parsing.

Wire format (both directions):
    FF FF FD 00 | ID | LEN_L LEN_H | INSTRUCTION | PARAMS... | CRC_L CRC_H
LEN counts INSTRUCTION + PARAMS + CRC after stuffing; a status packet's INSTRUCTION is 0x55 and its
first parameter is the error byte. The CRC covers every byte before it, stuffing included. Stuffing
inserts an extra 0xFD after any FF FF FD in the body so that the header pattern never appears there.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = b"\xff\xff\xfd\x00"
BROADCAST_ID = 0xFE
MAX_ID = 0xFC  # 252: the highest ID a motor can have

# Instructions
PING = 0x01
READ = 0x02
WRITE = 0x03
REG_WRITE = 0x04
ACTION = 0x05
FACTORY_RESET = 0x06
REBOOT = 0x08
CLEAR = 0x10
STATUS = 0x55
SYNC_READ = 0x82
SYNC_WRITE = 0x83
FAST_SYNC_READ = 0x8A
BULK_READ = 0x92
BULK_WRITE = 0x93
FAST_BULK_READ = 0x9A

# Status error byte: a number in bits 0..6, plus the alert bit
ERR_NONE = 0x00
ERR_RESULT_FAIL = 0x01
ERR_INSTRUCTION = 0x02
ERR_CRC = 0x03
ERR_DATA_RANGE = 0x04
ERR_DATA_LENGTH = 0x05
ERR_DATA_LIMIT = 0x06
ERR_ACCESS = 0x07
ERR_ALERT = 0x80

MAX_PACKET_LENGTH = 1024  # the SDK's buffer; longer LEN fields are treated as garbage


def _make_crc_table() -> tuple[int, ...]:
    # CRC-16/BUYPASS: polynomial 0x8005, MSB first, initial value 0, no reflection.
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _make_crc_table()


def crc16(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    for b in data:
        crc = ((crc << 8) ^ _CRC_TABLE[((crc >> 8) ^ b) & 0xFF]) & 0xFFFF
    return crc


def stuff(body: bytes | bytearray) -> bytes:
    """Insert 0xFD after every FF FF FD in a packet body (instruction/params, not the header).

    The match looks at the two bytes before each position in the *unstuffed* body, with the
    header's ID and LEN never part of it: stuffing is only about the body, as the SDK does it.
    """
    out = bytearray()
    for i, b in enumerate(body):
        out.append(b)
        if b == 0xFD and i >= 2 and body[i - 1] == 0xFF and body[i - 2] == 0xFF:
            out.append(0xFD)
    return bytes(out)


def unstuff(body: bytes | bytearray) -> bytes:
    """Undo `stuff`: drop the 0xFD that follows every FF FF FD."""
    out = bytearray()
    i = 0
    n = len(body)
    while i < n:
        b = body[i]
        out.append(b)
        if b == 0xFD and i + 1 < n and body[i + 1] == 0xFD and len(out) >= 3 and out[-3:-1] == b"\xff\xff":
            i += 1  # skip the stuffing byte
        i += 1
    return bytes(out)


def frame(packet_id: int, instruction: int, params: bytes | bytearray = b"") -> bytes:
    """A complete, stuffed packet with CRC."""
    body = stuff(bytes([instruction]) + bytes(params))
    length = len(body) + 2
    head = HEADER + bytes([packet_id, length & 0xFF, length >> 8])
    packet = head + body
    crc = crc16(packet)
    return packet + bytes([crc & 0xFF, crc >> 8])


def status_packet(motor_id: int, error: int, params: bytes | bytearray = b"") -> bytes:
    return frame(motor_id, STATUS, bytes([error & 0xFF]) + bytes(params))


@dataclass(frozen=True)
class Packet:
    """One framed packet as received: ID, instruction and unstuffed parameters."""

    id: int
    instruction: int
    params: bytes
    crc_ok: bool
    wire_length: int  # bytes on the wire, header to CRC


class PacketParser:
    """Splits a byte stream into packets, resynchronising on garbage.

    Feed it bytes as they arrive; `packets()` yields every complete packet found so far. A header
    whose LEN field is implausible is skipped one byte at a time. `discard_partial()` drops the
    first byte of a packet that never completed (called after an idle gap, as a motor's receive
    timeout would), so a false header in line noise cannot swallow the packets behind it.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        self._buf.extend(data)

    def discard_partial(self) -> None:
        if self._buf:
            del self._buf[0]

    def packets(self):
        buf = self._buf
        while True:
            start = self._find_header()
            if start < 0:
                return
            if start:
                del buf[:start]
            if len(buf) < 7:
                return
            length = buf[5] | (buf[6] << 8)
            if length < 3 or length > MAX_PACKET_LENGTH:
                del buf[0]
                continue
            total = 7 + length
            if len(buf) < total:
                return
            raw = bytes(buf[:total])
            del buf[:total]
            crc_ok = crc16(raw[:-2]) == (raw[-2] | (raw[-1] << 8))
            body = unstuff(raw[7:-2]) if crc_ok else raw[7:-2]
            yield Packet(raw[4], body[0], bytes(body[1:]), crc_ok, total)

    def _find_header(self) -> int:
        """Index of the first FF FF FD 00, keeping a trailing partial match; -1 if none can start here."""
        buf = self._buf
        i = buf.find(HEADER)
        if i >= 0:
            return i
        # Keep the longest tail that could still become a header once more bytes arrive.
        for keep in (3, 2, 1):
            if len(buf) >= keep and buf[-keep:] == HEADER[:keep]:
                del buf[:-keep]
                return -1
        buf.clear()
        return -1
