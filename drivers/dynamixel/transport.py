"""One attempt of each Protocol 2.0 instruction, on the SDK's packet handler.

Framing, CRC and byte stuffing are the SDK's (`Protocol2PacketHandler`). What this layer adds is what
the SDK's group classes throw away: the status error byte of every reply (its alert bit is how a motor
reports overload or overheating), which motor a failed group read stopped at, and the host time at
which the last reply byte arrived. Retrying, naming and error messages are the bus's job (bus.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from dynamixel_sdk import (
    BROADCAST_ID,
    COMM_RX_CORRUPT,
    COMM_RX_TIMEOUT,
    COMM_SUCCESS,
    INST_PING,
    Protocol2PacketHandler,
)

from drivers.dynamixel.port import DxlPortHandler

PKT_ID = 4
PKT_INSTRUCTION = 7
PKT_ERROR = 8
FAST_REPLY_HEADER = 8  # header(4) + id + length(2) + instruction; then N × [error, id, data, crc(2)]


class AttemptFailed(Exception):
    """One attempt of an instruction failed on the wire (no reply, corrupt reply, tx failure)."""

    def __init__(
        self,
        result: int,
        motor_id: int | None,
        status_error: int = 0,
        partial: dict[int, tuple[int, bytes]] | None = None,
    ):
        super().__init__(result)
        self.result = result  # an SDK COMM_* code
        self.motor_id = motor_id  # the motor whose reply was missing or bad, where known
        self.status_error = status_error  # a motor's reply said "CRC error" for our instruction
        self.partial = partial or {}  # replies of a group read that arrived intact before the failure
        self.progress = bool(self.partial)


Reply = tuple[int, bytes]  # (status error byte, data)


class Transport:
    def __init__(self, port: DxlPortHandler, now: Callable[[], float] = time.monotonic):
        self.port = port
        self.ph = Protocol2PacketHandler()
        self.now = now  # stamps the moment a read's last reply byte arrived

    def _begin(self) -> None:
        # The SDK marks the port busy between tx and rx; a PortError raised mid-packet leaves the flag
        # set. The bus serialises access itself, so the flag carries no information here.
        self.port.is_using = False

    # -- single motor ---------------------------------------------------------------------------
    def ping(self, motor_id: int) -> tuple[int, int, int]:
        """(model number, firmware version, status error) of one motor."""
        self._begin()
        tx = [0] * 10
        tx[PKT_ID] = motor_id
        tx[5], tx[6] = 3, 0
        tx[PKT_INSTRUCTION] = INST_PING
        rx, result, error = self.ph.txRxPacket(self.port, tx)
        if result != COMM_SUCCESS:
            raise AttemptFailed(result, motor_id)
        if len(rx) < 14:  # header..error(9) + model(2) + firmware(1) + crc(2)
            raise AttemptFailed(COMM_RX_CORRUPT, motor_id)
        return rx[9] | (rx[10] << 8), rx[11], error

    def broadcast_ping(self) -> tuple[dict[int, tuple[int, int]], int]:
        """{id: (model number, firmware)} of every motor that answered, and the SDK result code."""
        self._begin()
        found, result = self.ph.broadcastPing(self.port)
        return {i: (v[0], v[1]) for i, v in found.items()}, result

    def read(self, motor_id: int, address: int, length: int) -> Reply:
        self._begin()
        data, result, error = self.ph.readTxRx(self.port, motor_id, address, length)
        if result != COMM_SUCCESS:
            raise AttemptFailed(result, motor_id)
        if len(data) != length and (data or not error & 0x7F):
            # A status packet of another length is a late reply to an earlier instruction, not ours.
            raise AttemptFailed(COMM_RX_CORRUPT, motor_id)
        return error, bytes(data)

    def write(self, motor_id: int, address: int, data: list[int]) -> int:
        """Write with acknowledgement; returns the status error byte. Broadcast writes get no reply."""
        self._begin()
        result, error = self.ph.writeTxRx(self.port, motor_id, address, len(data), data)
        if result != COMM_SUCCESS:
            raise AttemptFailed(result, None if motor_id == BROADCAST_ID else motor_id)
        return error

    def reboot(self, motor_id: int) -> int:
        self._begin()
        result, error = self.ph.reboot(self.port, motor_id)
        if result != COMM_SUCCESS:
            raise AttemptFailed(result, motor_id)
        return error

    # -- groups -------------------------------------------------------------------------------
    def sync_read(self, ids: Sequence[int], address: int, length: int) -> tuple[dict[int, Reply], float]:
        """Sync Read (0x82): one status packet per motor, in id order of the request.

        On failure `AttemptFailed.motor_id` is the first motor whose reply did not arrive intact; the
        replies before it are in `partial` so a retry need only ask the rest.
        """
        self._begin()
        result = self.ph.syncReadTx(self.port, address, length, list(ids), len(ids), False)
        if result != COMM_SUCCESS:
            raise AttemptFailed(result, None)
        self.port.setPacketTimeoutMillis(
            self.port.tx_time_per_byte * (11 + length) * len(ids) + self.port.reply_allowance_ms(len(ids))
        )
        return self._collect(ids, [length] * len(ids))

    def bulk_read(self, requests: Sequence[tuple[int, int, int]]) -> tuple[dict[int, Reply], float]:
        """Bulk Read (0x92): each motor its own (address, length); one status packet per motor."""
        self._begin()
        param: list[int] = []
        for motor_id, address, length in requests:
            param += [motor_id, address & 0xFF, address >> 8, length & 0xFF, length >> 8]
        result = self.ph.bulkReadTx(self.port, param, len(param), False)
        if result != COMM_SUCCESS:
            raise AttemptFailed(result, None)
        total = sum(11 + length for _, _, length in requests)
        self.port.setPacketTimeoutMillis(
            self.port.tx_time_per_byte * total + self.port.reply_allowance_ms(len(requests))
        )
        return self._collect([r[0] for r in requests], [r[2] for r in requests])

    def _collect(self, ids: Sequence[int], lengths: Sequence[int]) -> tuple[dict[int, Reply], float]:
        replies: dict[int, Reply] = {}
        for motor_id, length in zip(ids, lengths, strict=True):
            data, result, error = self.ph.readRx(self.port, motor_id, length)
            if result != COMM_SUCCESS:
                raise AttemptFailed(result, motor_id, partial=replies)
            if len(data) != length and (data or not error & 0x7F):  # not the reply to this read
                raise AttemptFailed(COMM_RX_CORRUPT, motor_id, partial=replies)
            replies[motor_id] = (error, bytes(data))
        return replies, self.now()

    def fast_sync_read(self, ids: Sequence[int], address: int, length: int) -> tuple[dict[int, Reply], float]:
        """Fast Sync Read (0x8A): every motor appends its block to one combined status packet."""
        self._begin()
        n = len(ids)
        result = self.ph.syncReadTx(self.port, address, length, list(ids), n, True)
        if result != COMM_SUCCESS:
            raise AttemptFailed(result, None)
        segment = length + 4
        self.port.setPacketTimeoutMillis(
            self.port.tx_time_per_byte * (FAST_REPLY_HEADER + n * segment) + self.port.reply_allowance_ms(n)
        )
        rx, result = self.ph.rxPacket(self.port, True)
        t = self.now()
        expected = FAST_REPLY_HEADER + n * segment
        if result != COMM_SUCCESS:
            if rx and len(rx) >= expected:
                raise AttemptFailed(result, self._first_bad_segment(rx, ids, segment))
            if not rx:
                raise AttemptFailed(COMM_RX_TIMEOUT, None)  # nothing at all: no one to blame
            # The segments that did arrive tell which motor the chain broke at: the first expected id
            # that is not where it should be (a silent motor leaves its segment out).
            received = max(0, len(rx) - FAST_REPLY_HEADER) // segment
            suspect = ids[received] if received < n else None
            for k in range(received):
                if rx[FAST_REPLY_HEADER + k * segment + 1] != ids[k]:
                    suspect = ids[k]
                    break
            raise AttemptFailed(result, suspect)
        if len(rx) > expected:
            # The reply was byte-stuffed (FF FF FD inside the data); the SDK leaves fast replies as
            # they came, so undo it here before slicing segments.
            rx = self.ph.removeStuffing(list(rx))
            rx = rx[: 7 + (rx[5] | (rx[6] << 8))]
        if rx[PKT_ID] != BROADCAST_ID or len(rx) != expected:
            raise AttemptFailed(COMM_RX_CORRUPT, None)
        replies: dict[int, Reply] = {}
        for i in range(n):
            base = FAST_REPLY_HEADER + i * segment
            replies[rx[base + 1]] = (rx[base], bytes(rx[base + 2 : base + 2 + length]))
        if len(replies) != n or any(i not in replies for i in ids):
            raise AttemptFailed(COMM_RX_CORRUPT, None)
        return replies, t

    def _first_bad_segment(self, rx, ids: Sequence[int], segment: int) -> int | None:
        """Each segment of a fast reply ends in the running CRC of the packet so far; the first one
        that does not match points at the motor whose bytes were damaged."""
        if len(rx) != FAST_REPLY_HEADER + len(ids) * segment:
            return None  # stuffed: segment boundaries moved, cannot tell
        for i, motor_id in enumerate(ids):
            end = FAST_REPLY_HEADER + (i + 1) * segment - 2
            if self.ph.updateCRC(0, rx, end) != rx[end] | (rx[end + 1] << 8):
                return motor_id
        return None

    def sync_write(self, address: int, length: int, param: list[int]) -> None:
        """Sync Write (0x83): `param` is [id, data bytes...] per motor. No reply."""
        self._begin()
        result = self.ph.syncWriteTxOnly(self.port, address, length, param, len(param))
        if result != COMM_SUCCESS:
            raise AttemptFailed(result, None)
