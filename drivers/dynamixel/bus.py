"""One Dynamixel bus: a serial port and the motors on it, addressed by joint name and register name.

The bus owns the retry budget (every instruction is tried up to 1 + `retries` times), counts failures
per motor, turns a reply's alert bit into a `HardwareErrorEvent` that names the motor and joint, and
turns "There is no status packet" into a message that says which motor, where, and what to check.
Repeated group transfers (an arm's tick) are compiled once into `GroupReader` / `GroupWriter`
(group.py); this file holds the bus and the single-motor instructions.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from dynamixel_sdk import COMM_RX_TIMEOUT, COMM_SUCCESS, MAX_ID

from drivers.dynamixel.control_table import (
    ControlTable,
    control_table,
    control_table_for_number,
    decode_hardware_error,
)
from drivers.dynamixel.diagnose import failure_error
from drivers.dynamixel.errors import (
    ALERT_BIT,
    ConfigurationError,
    HardwareErrorEvent,
    MotorRejectedError,
    PortError,
    describe_status_error,
    motor_label,
)
from drivers.dynamixel.port import DEFAULT_TIMEOUT_MARGIN_MS, DxlPortHandler, open_port_handler
from drivers.dynamixel.transport import AttemptFailed, Transport
from drivers.dynamixel.units import decode, encode, from_units, to_units
from robot_stack.clock import Clock, MonotonicClock

T = TypeVar("T")
Motor = str | int  # a joint name the bus knows, or a raw id (scanning, assembling an arm)
STATUS_ERROR_CRC = 3


@dataclass(frozen=True)
class MotorInfo:
    id: int
    model_number: int
    model: str | None  # catalog name, None for a model the catalog does not know
    firmware: int


@dataclass
class BusStats:
    transactions: int = 0  # calls (a retried call counts once)
    retries: int = 0
    failures: int = 0  # calls that exhausted the retry budget
    unattributed_errors: int = 0  # failed attempts no single motor could be blamed for


class DynamixelBus:
    """A serial port with Dynamixel motors on it. Open it, or use it as a context manager."""

    def __init__(
        self,
        port: str,
        baud_rate: int = 1_000_000,
        *,
        retries: int = 3,
        arm: str | None = None,
        return_delay_us: int = 0,
        latency_timer_ms: float | None = None,
        timeout_margin_ms: float = DEFAULT_TIMEOUT_MARGIN_MS,
        poll: str = "wait",
        clock: Clock | None = None,
    ):
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.port_name = port
        self.baud_rate = baud_rate
        self.retries = retries
        self.arm = arm  # names motors in messages: "left_follower/elbow"
        self.now = (clock or MonotonicClock()).now  # capture timestamps of reads
        self._port_options = dict(
            latency_timer_ms=latency_timer_ms,
            timeout_margin_ms=timeout_margin_ms,
            return_delay_us=return_delay_us,
            poll=poll,
        )
        self._port: DxlPortHandler | None = None
        self._transport: Transport | None = None
        self._lock = threading.RLock()
        self._joint_ids: dict[str, int] = {}
        self._id_joints: dict[int, str] = {}
        self._tables: dict[int, ControlTable] = {}
        self.firmware: dict[int, int] = {}
        self.error_counts: dict[int, int] = {}
        self.stats = BusStats()
        self._alerted: dict[int, int] = {}  # id → hardware error status already reported
        self.hardware_events: deque[HardwareErrorEvent] = deque(maxlen=256)
        self.on_hardware_error: list[Callable[[HardwareErrorEvent], None]] = []

    # -- lifecycle -----------------------------------------------------------------------------
    def open(self) -> DynamixelBus:
        with self._lock:
            if self._port is None:
                self._port = open_port_handler(self.port_name, self.baud_rate, **self._port_options)
                self._transport = Transport(self._port, self.now)
        return self

    def close(self) -> None:
        with self._lock:
            if self._port is not None:
                try:
                    self._port.closePort()
                finally:
                    self._port = None
                    self._transport = None

    def __enter__(self) -> DynamixelBus:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def is_ready(self) -> bool:
        return self._port is not None and self._port.is_open

    @property
    def port(self) -> DxlPortHandler:
        if self._port is None:
            raise PortError(
                self.port_name, "closed", f"bus on {self.port_name} is not open", "call open() first"
            )
        return self._port

    @property
    def transport(self) -> Transport:
        self.port  # noqa: B018 — raises the "not open" error
        assert self._transport is not None
        return self._transport

    def set_baud_rate(self, baud_rate: int) -> None:
        """Reopen the port at another baud rate (after changing the motors' baud, or when scanning)."""
        with self._lock:
            self.close()
            self.baud_rate = baud_rate
            self.open()

    # -- naming --------------------------------------------------------------------------------
    def add_motor(self, joint: str, motor_id: int, model: str) -> None:
        """Name a motor so that calling code addresses it by joint, and messages name the joint."""
        if joint in self._joint_ids and self._joint_ids[joint] != motor_id:
            raise ValueError(f"joint {joint!r} is already motor {self._joint_ids[joint]} on {self.port_name}")
        self._joint_ids[joint] = motor_id
        self._id_joints[motor_id] = joint
        self._tables[motor_id] = control_table(model)

    def motor_id(self, motor: Motor) -> int:
        if isinstance(motor, str):
            try:
                return self._joint_ids[motor]
            except KeyError:
                known = ", ".join(self._joint_ids) or "none"
                raise KeyError(f"no joint {motor!r} on {self.port_name}; known joints: {known}") from None
        if not 0 <= motor <= MAX_ID:
            raise ValueError(f"motor id {motor} is outside 0..{MAX_ID}")
        return motor

    def joint_of(self, motor_id: int) -> str | None:
        joint = self._id_joints.get(motor_id)
        if joint is None:
            return None
        return f"{self.arm}/{joint}" if self.arm else joint

    def label(self, motor_id: int) -> str:
        return motor_label(motor_id, self.joint_of(motor_id))

    def table(self, motor: Motor) -> ControlTable:
        """The control table of a motor; pings an unnamed motor once to learn its model."""
        motor_id = self.motor_id(motor)
        if motor_id not in self._tables:
            info = self.ping(motor_id)
            if info.model is None:
                raise ConfigurationError(
                    f"{self.label(motor_id)} on {self.port_name} is model number {info.model_number}, "
                    "which is not an X-series model robot_stack knows",
                    "use an X-series motor from the catalog (robot_stack/rig/motor_catalog.py)",
                )
            self._tables[motor_id] = control_table(info.model)
        return self._tables[motor_id]

    # -- retries and failure reporting -----------------------------------------------------------
    def with_retries(self, what: str, attempt: Callable[[], T], ids: Sequence[int]) -> T:
        """Run `attempt` until it succeeds or the retry budget is spent; then raise a named error.

        The budget counts attempts that got nothing: a group read that lost one motor's reply but
        kept the others' retries only the rest, and that partial progress does not use up the
        budget (it cannot go on forever: each such attempt completes at least one more motor).
        """
        with self._lock:
            transport = self.transport
            budget = self.retries
            self.stats.transactions += 1
            while True:
                try:
                    return attempt()
                except AttemptFailed as failed:
                    self._count(failed, ids)
                    if not failed.progress:
                        if budget == 0:
                            self.stats.failures += 1
                            raise failure_error(self, what, failed, ids) from None
                        budget -= 1
                    self.stats.retries += 1
                    self.recover(transport, timed_out=failed.result == COMM_RX_TIMEOUT)

    def _count(self, failed: AttemptFailed, ids: Sequence[int]) -> None:
        if failed.motor_id is None:
            self.stats.unattributed_errors += 1  # e.g. a whole combined reply lost
        else:
            self.error_counts[failed.motor_id] = self.error_counts.get(failed.motor_id, 0) + 1

    def recover(self, transport: Transport | None = None, *, timed_out: bool = True) -> None:
        """Let the line go quiet after a failed attempt, so a retry does not collide with late replies
        (and a late reply is not taken for the answer to the next instruction: Protocol 2.0 status
        packets carry no sequence number). After a timeout, quiet means silent for as long as a reply
        may be late; after a damaged reply, only the rest of the group can still be on the wire."""
        port = (transport or self.transport).port
        quiet_ms = max(0.5, 30 * port.tx_time_per_byte)
        if timed_out:
            quiet_ms = max(quiet_ms, port.reply_allowance_ms())
        port.wait_quiet(quiet_ms=quiet_ms, limit_ms=max(20.0, 4 * quiet_ms))

    # -- status errors and hardware alerts --------------------------------------------------------
    def check_status(self, motor_id: int, error: int, what: str) -> None:
        """Raise for a refused instruction; remember an alert bit for `process_alerts`."""
        code = error & 0x7F
        if code == STATUS_ERROR_CRC:
            raise AttemptFailed(COMM_SUCCESS, motor_id, status_error=code)
        if code:
            hint = None
            if error & ALERT_BIT:
                hint = (
                    "the motor also reports a hardware error, which keeps torque off: "
                    f"`robot-stack motors read --port {self.port_name} --id {motor_id}` shows which, "
                    f"`robot-stack motors reboot --port {self.port_name} --id {motor_id}` clears it"
                )
            raise MotorRejectedError(
                f"{self.label(motor_id)} on {self.port_name} refused {what}: {describe_status_error(code)}",
                hint,
                motor_id,
                code,
            )

    def process_alerts(self, errors: Iterable[tuple[int, int]]) -> None:
        """Given (id, status error byte) of replies, report newly raised alerts as named events."""
        for motor_id, error in errors:
            if error & ALERT_BIT:
                if motor_id not in self._alerted:
                    self._report_alert(motor_id)
            elif motor_id in self._alerted:
                del self._alerted[motor_id]  # cleared (rebooted)

    def _report_alert(self, motor_id: int) -> None:
        address = 70  # Hardware Error Status: same address on every X-series model
        error, data = self.with_retries(
            f"reading hardware error status of {self.label(motor_id)}",
            lambda: self.transport.read(motor_id, address, 1),
            [motor_id],
        )
        status = data[0] if data else 0
        self._alerted[motor_id] = status
        event = HardwareErrorEvent(
            motor_id=motor_id,
            joint=self.joint_of(motor_id),
            port=self.port_name,
            status=status,
            errors=tuple(decode_hardware_error(status)),
            t=self.now(),
        )
        self.hardware_events.append(event)
        for callback in list(self.on_hardware_error):
            callback(event)

    def drain_hardware_events(self) -> list[HardwareErrorEvent]:
        events = []
        while self.hardware_events:
            events.append(self.hardware_events.popleft())
        return events

    # -- single-motor instructions ---------------------------------------------------------------
    def ping(self, motor: Motor) -> MotorInfo:
        motor_id = self.motor_id(motor)
        model_number, firmware, error = self.with_retries(
            f"ping {self.label(motor_id)}", lambda: self.transport.ping(motor_id), [motor_id]
        )
        self.process_alerts([(motor_id, error)])
        self.firmware[motor_id] = firmware
        return _motor_info(motor_id, model_number, firmware)

    def try_ping(self, motor: Motor) -> MotorInfo | None:
        """Ping once, without retries: None when nothing answers (for scanning)."""
        motor_id = self.motor_id(motor)
        with self._lock:
            try:
                model_number, firmware, _ = self.transport.ping(motor_id)
            except AttemptFailed:
                self.recover()
                return None
        return _motor_info(motor_id, model_number, firmware)

    def scan(self, ids: Iterable[int] | None = None) -> list[MotorInfo]:
        """Motors answering at the current baud rate: one broadcast ping, or a ping per id in `ids`."""
        if ids is not None:
            found = [self.try_ping(i) for i in ids]
            return [info for info in found if info is not None]
        with self._lock:
            replies, result = self.transport.broadcast_ping()
        if result not in (COMM_SUCCESS, COMM_RX_TIMEOUT):
            # Colliding or damaged replies: fall back to asking each id in turn.
            return self.scan(range(0, MAX_ID + 1))
        return [_motor_info(i, model, fw) for i, (model, fw) in sorted(replies.items())]

    def read(self, motor: Motor, register: str, *, units: bool = False) -> int | float:
        motor_id = self.motor_id(motor)
        table = self.table(motor_id)
        reg = table[register]
        error, data = self.with_retries(
            f"reading {register} of {self.label(motor_id)}",
            lambda: self._checked_read(motor_id, reg.address, reg.size, f"reading {register}"),
            [motor_id],
        )
        self.process_alerts([(motor_id, error)])
        raw = decode(reg, data)
        return to_units(table, register, raw) if units else raw

    def read_table(self, motor: Motor) -> dict[str, int]:
        """Every register of one motor, in one read instruction (for `robot-stack motors read`)."""
        motor_id = self.motor_id(motor)
        table = self.table(motor_id)
        error, data = self.with_retries(
            f"reading the control table of {self.label(motor_id)}",
            lambda: self._checked_read(motor_id, 0, table.size, "reading its control table"),
            [motor_id],
        )
        self.process_alerts([(motor_id, error)])
        return {name: decode(reg, data, reg.address) for name, reg in table.registers.items()}

    def _checked_read(self, motor_id: int, address: int, length: int, what: str) -> tuple[int, bytes]:
        error, data = self.transport.read(motor_id, address, length)
        self.check_status(motor_id, error, what)
        return error, data

    def write(self, motor: Motor, register: str, value: float, *, units: bool = False) -> None:
        """Write one register and wait for the motor's acknowledgement."""
        motor_id = self.motor_id(motor)
        table = self.table(motor_id)
        reg = table[register]
        if not reg.writable:
            raise ValueError(f"{register} is read-only")
        raw = from_units(table, register, value) if units else int(value)
        data = encode(reg, raw)
        what = f"writing {register}={raw}"

        def attempt() -> int:
            error = self.transport.write(motor_id, reg.address, data)
            self.check_status(motor_id, error, what)
            return error

        error = self.with_retries(f"{what} to {self.label(motor_id)}", attempt, [motor_id])
        self.process_alerts([(motor_id, error)])

    def reboot(self, motor: Motor, *, settle_s: float = 0.5) -> None:
        """Reboot a motor (clears hardware errors; torque comes back off) and wait until it answers."""
        motor_id = self.motor_id(motor)
        self.with_retries(
            f"rebooting {self.label(motor_id)}", lambda: self.transport.reboot(motor_id), [motor_id]
        )
        self._alerted.pop(motor_id, None)
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            if self.try_ping(motor_id) is not None:
                return
            time.sleep(0.02)
        self.ping(motor_id)  # raises the named "did not answer" error

    # -- groups (compiled plans live in group.py) -------------------------------------------------
    def group_reader(self, motors: Sequence[Motor], registers: Sequence[str], *, fast: bool | None = None):
        from drivers.dynamixel.group import GroupReader

        return GroupReader(self, [self.motor_id(m) for m in motors], list(registers), fast=fast)

    def group_writer(self, motors: Sequence[Motor], register: str):
        from drivers.dynamixel.group import GroupWriter

        return GroupWriter(self, [self.motor_id(m) for m in motors], register)

    def sync_read(self, motors: Sequence[Motor], registers: str | Sequence[str]) -> dict[str, dict[str, int]]:
        """One-off group read: {register: {motor (as given): value}}. Loops should keep a GroupReader."""
        names = [registers] if isinstance(registers, str) else list(registers)
        values, _ = self.group_reader(motors, names).read()
        return {name: {m: int(values[i, j]) for i, m in enumerate(motors)} for j, name in enumerate(names)}

    def bulk_read(self, requests: dict[Motor, str]) -> dict[Motor, int]:
        """Different registers from different motors in one Bulk Read instruction."""
        from drivers.dynamixel.group import bulk_read

        return bulk_read(self, requests)

    def sync_write(self, register: str, values: dict[Motor, int]) -> None:
        motors = list(values)
        self.group_writer(motors, register).write([values[m] for m in motors])


def _motor_info(motor_id: int, model_number: int, firmware: int) -> MotorInfo:
    try:
        model = control_table_for_number(model_number).model.name
    except KeyError:
        model = None
    return MotorInfo(motor_id, model_number, model, firmware)
