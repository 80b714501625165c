"""One emulated Dynamixel chain on one pseudo-terminal: the thing a test or the sim rig starts.

    with DynamixelChainEmulator([EmulatedMotorConfig(1, "xm430-w350")], baud_rate=1_000_000) as emu:
        port = dynamixel_sdk.PortHandler(emu.port_path)
        ...

Threads: a reader (blocks in poll; parses, executes, schedules replies) and a writer (delivers each
reply at its deadline). Hooks run on the reader thread: keep them short.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from drivers.dynamixel import protocol as p
from drivers.dynamixel.emulator.engine import BeforeReply, ProtocolEngine
from drivers.dynamixel.emulator.faults import FaultInjector
from drivers.dynamixel.emulator.motion import IdealServo
from drivers.dynamixel.emulator.motor import EmulatedMotor, EmulatedMotorConfig
from drivers.dynamixel.emulator.transport import PtyTransport

log = logging.getLogger(__name__)

WriteListener = Callable[[int, str, int], None]  # (motor id, register name, value)
BITS_PER_BYTE = 10  # start bit, 8 data bits, stop bit


def wire_time_s(n_bytes: int, baud_rate: int) -> float:
    return n_bytes * BITS_PER_BYTE / baud_rate


@dataclass
class ChainStats:
    packets_in: int = 0
    bad_crc_in: int = 0
    replies_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    hook_errors: int = 0


class DynamixelChainEmulator:
    """Dynamixel X-series motors on one bus, reachable through a pty with the real SDK.

    baud_rate      the rate motors get when their config names none; also the bus rate assumed when
                   the host's line speed cannot be read from the pty (follow_host_baud=False forces it)
    wire_timing    deliver each reply when it would have finished arriving on a real bus
    link_path      optional stable symlink to the pty (e.g. /tmp/robot_stack/ttyDXL_left_follower)
    motion         "ideal" for the built-in ideal servo, None when a physics model drives the shafts
    """

    def __init__(
        self,
        motors: Sequence[EmulatedMotorConfig],
        baud_rate: int = 1_000_000,
        wire_timing: bool = False,
        link_path: str | os.PathLike | None = None,
        seed: int = 0,
        motion: str | None = "ideal",
        follow_host_baud: bool = True,
        name: str = "dxl-emulator",
        priority: int = 0,
    ):
        """`priority`: SCHED_FIFO priority of the threads that answer the host (0: ordinary); real
        motors do not wait for a core, so a simulated rig serves them as real-time threads."""
        if motion not in ("ideal", None):
            raise ValueError(f"motion must be 'ideal' or None, not {motion!r}")
        self.baud_rate = baud_rate
        self.wire_timing = wire_timing
        self.follow_host_baud = follow_host_baud
        self.stats = ChainStats()
        self._lock = threading.RLock()
        self._motors = [EmulatedMotor(cfg, baud_rate, self._lock) for cfg in motors]
        ids = [m.id for m in self._motors]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate motor ids on one chain: {sorted(ids)}")
        self.faults = FaultInjector(seed, hardware_error=lambda i, n: self.motor(i).raise_hardware_error(n))
        self._engine = ProtocolEngine(self._motors, self._lock, self.faults.is_silent, baud_rate)
        self._engine.motion = IdealServo() if motion == "ideal" else None
        self._listeners: list[WriteListener] = []
        self._parser = p.PacketParser()
        self._transport = PtyTransport(self._on_data, self._on_idle, link_path, name)
        self._transport.priority = priority
        self._bus_free_at = 0.0
        self._running = False

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> DynamixelChainEmulator:
        if not self._running:
            self._transport.open()
            self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._transport.close()

    def __enter__(self) -> DynamixelChainEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def is_ready(self) -> bool:
        return self._running

    @property
    def port_path(self) -> str:
        if not self._running:
            raise RuntimeError("the emulator is not started; call start() first")
        return self._transport.port_path

    @property
    def pty_path(self) -> str:
        """The pseudo-terminal itself (/dev/pts/N), whether or not a link was asked for."""
        if not self._running:
            raise RuntimeError("the emulator is not started; call start() first")
        return self._transport.slave_path

    # ---- motors and hooks -------------------------------------------------------------------------
    @property
    def motors(self) -> list[EmulatedMotor]:
        return list(self._motors)

    def motor(self, motor_id: int) -> EmulatedMotor:
        """The motor that currently has this ID (IDs change when the host writes register 7)."""
        for m in self._motors:
            if m.id == motor_id:
                return m
        raise KeyError(
            f"no emulated motor with id {motor_id} on this chain (ids: {[m.id for m in self._motors]})"
        )

    def add_write_listener(self, listener: WriteListener) -> None:
        """Call `listener(motor_id, register_name, value)` after every register write from the bus
        (write, reg write + action, sync write, bulk write), on the reader thread, lock released."""
        self._listeners.append(listener)

    def remove_write_listener(self, listener: WriteListener) -> None:
        self._listeners.remove(listener)

    @property
    def before_reply(self) -> BeforeReply | None:
        return self._engine.before_reply

    @before_reply.setter
    def before_reply(self, hook: BeforeReply | None) -> None:
        """`hook(motor_ids)` runs right before a read is answered, lock released, so the physics can
        push fresh shaft state with motor.set_raw_position() and friends."""
        self._engine.before_reply = hook

    def attach_physics(
        self, before_reply: BeforeReply | None = None, on_write: WriteListener | None = None
    ) -> None:
        """Hand the shafts to an external physics model: the ideal servo stops moving them."""
        self._engine.motion = None
        self.before_reply = before_reply
        if on_write is not None:
            self.add_write_listener(on_write)

    def wait_input_handled(self, timeout_s: float = 1.0) -> bool:
        """Block until every packet the host has sent so far has been executed (writes applied).

        A lockstep simulation calls this before moving time, so a goal written just before a step
        takes effect in that step however busy the machine is, as it would on a real bus.
        """
        return self._transport.wait_input_handled(timeout_s) if self._running else True

    def host_baud_rate(self) -> int:
        """The bus rate now: what the host set on its port, or `baud_rate` when unknown."""
        if self.follow_host_baud and self._running:
            return self._transport.host_baud_rate() or self.baud_rate
        return self.baud_rate

    # ---- the reader thread ---------------------------------------------------------------------------
    def _on_data(self, data: bytes, arrival: float) -> None:
        self.stats.bytes_in += len(data)
        self._parser.feed(data)
        self._drain(arrival)

    def _on_idle(self) -> None:
        self._parser.discard_partial()
        self._drain(time.perf_counter())

    def _drain(self, arrival: float) -> None:
        for pkt in self._parser.packets():
            try:
                self._handle(pkt, arrival)
            except Exception:  # a bug or a failing hook must not kill the bus for everyone else
                self.stats.hook_errors += 1
                log.exception(
                    "emulator failed to handle packet id=%d instruction=0x%02X", pkt.id, pkt.instruction
                )
        self._transport.partial = self._parser.pending > 0

    def _handle(self, pkt: p.Packet, arrival: float) -> None:
        self.stats.packets_in += 1
        self.stats.bad_crc_in += not pkt.crc_ok
        baud = self.host_baud_rate()
        replies = self._engine.handle(pkt, baud)
        writes, self._engine.writes = self._engine.writes, []
        self._schedule(pkt, replies, arrival, baud)
        for event in writes:
            for listener in list(self._listeners):
                try:
                    listener(*event)
                except Exception:
                    self.stats.hook_errors += 1
                    log.exception("write listener failed on %s", event)

    def _schedule(self, pkt: p.Packet, replies, arrival: float, baud: int) -> None:
        """Give every reply its delivery time: after the request has crossed the wire, the motor's
        return delay, and its own bytes; replies to a group read queue one after another."""
        cursor = max(arrival, self._bus_free_at) if self.wire_timing else arrival
        if self.wire_timing:
            cursor += wire_time_s(pkt.wire_length, baud)
        for reply in replies:
            cursor += self.faults.extra_latency_s
            if self.wire_timing:
                cursor += reply.motor.return_delay_s + wire_time_s(len(reply.packet), baud)
            out = self.faults.mangle(reply.packet)
            if out is not None:
                self.stats.replies_out += 1
                self.stats.bytes_out += len(out)
                self._transport.send(out, cursor)
        self._bus_free_at = cursor
