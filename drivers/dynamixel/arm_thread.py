"""Each arm's bus I/O on its own thread, so four arms on four ports are read at the same time.

The control loop never touches a serial port. Per tick it asks every arm's thread for a read
(`request_read`), hands followers their goals (`submit_goal`), and waits on the tickets it got back;
the four transactions overlap on the four ports. In between, `latest()` returns the newest reading
without blocking. With `period_s` the thread also reads on its own, on absolute deadlines (a leader
polled for teleoperation), and `latest()` is at most one period old.

The wait for a reply happens in select() (see port.py), outside the GIL, so four I/O threads cost
little CPU while their transactions are on the wire.

Errors are not swallowed: when the bus gives up on a transaction (retry budget spent) the thread
stops, and every call on it after that raises `ArmIOError` carrying the bus's message, until the
caller handles it and starts a new thread. Hardware errors a motor reports (overload, ...) do not
stop the thread; they are queued as events for `drain_events()`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from drivers.dynamixel.arm import ArmReading, DynamixelArm
from drivers.dynamixel.errors import DynamixelError, HardwareErrorEvent
from robot_stack.errors import RobotStackError
from robot_stack.realtime import fifo_priority


class ArmIOError(DynamixelError):
    """The I/O thread of an arm stopped on an error; `__cause__` is the original exception."""


class ArmIOThread:
    def __init__(
        self,
        arm: DynamixelArm,
        *,
        period_s: float | None = None,
        on_hardware_error: Callable[[HardwareErrorEvent], None] | None = None,
        priority: int = 0,
    ):
        """`priority`: run the thread SCHED_FIFO (where allowed), as part of a control loop's path."""
        self.arm = arm
        self.period_s = period_s
        self.priority = priority
        self._on_hardware_error = on_hardware_error
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._next_ticket = 0  # last ticket handed out
        self._done_ticket = 0  # every ticket up to this one has been served
        self._read_wanted = 0  # highest ticket that asked for a read
        self._goal: np.ndarray | None = None
        self._latest: ArmReading | None = None
        self._error: BaseException | None = None
        self._events: deque[HardwareErrorEvent] = deque(maxlen=256)
        self.cycles = 0
        self.overruns = 0  # periodic reads that started after their deadline had passed
        self.goal_written_t: float | None = None  # when the newest goal's Sync Write left (monotonic)
        self.last_cycle_s = 0.0  # bus time of the newest cycle (write and/or read)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> ArmIOThread:
        if self._thread is not None and self._thread.is_alive():
            return self
        if not self.arm.is_ready:
            raise RuntimeError(f"open arm {self.arm.name} before starting its I/O thread")
        with self._cv:
            self._stopping = False
            self._error = None
            self._done_ticket = self._next_ticket
            self._read_wanted = 0
            self._goal = None
        self.arm.bus.on_hardware_error.append(self._event)
        self._thread = threading.Thread(
            target=self._run_prioritised, name=f"arm-io-{self.arm.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Finish the transaction in flight, then end the thread and join it."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"I/O thread of arm {self.arm.name} did not stop within {timeout} s")
            self._thread = None
        if self._event in self.arm.bus.on_hardware_error:
            self.arm.bus.on_hardware_error.remove(self._event)

    def __enter__(self) -> ArmIOThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._error is None

    # -- requests ------------------------------------------------------------------------------
    def request_read(self) -> int:
        """Ask for a read (after any goal already submitted); returns a ticket for `wait`."""
        with self._cv:
            self._raise_if_failed()
            self._next_ticket += 1
            self._read_wanted = self._next_ticket
            self._cv.notify_all()
            return self._next_ticket

    def submit_goal(self, positions: Sequence[float] | np.ndarray) -> int:
        """Queue goal positions (ticks, joint order); a newer goal replaces one not yet sent."""
        goal = np.asarray(positions, dtype=np.float64)
        if goal.shape != (self.arm.num_joints,):
            raise ValueError(
                f"arm {self.arm.name}: expected {self.arm.num_joints} goals, got shape {goal.shape}"
            )
        with self._cv:
            self._raise_if_failed()
            self._next_ticket += 1
            self._goal = goal
            self._cv.notify_all()
            return self._next_ticket

    def wait(self, ticket: int, timeout: float | None = 1.0) -> ArmReading | None:
        """Block until `ticket` has been served; returns the newest reading."""
        with self._cv:
            served = self._cv.wait_for(
                lambda: self._done_ticket >= ticket or self._error is not None or self._stopping, timeout
            )
            self._raise_if_failed()
            if not served:
                raise TimeoutError(f"arm {self.arm.name}: bus I/O did not finish within {timeout} s")
            return self._latest

    def read(self, timeout: float | None = 1.0) -> ArmReading:
        reading = self.wait(self.request_read(), timeout)
        assert reading is not None
        return reading

    def latest(self) -> ArmReading | None:
        """The newest reading, without blocking (None before the first)."""
        with self._cv:
            self._raise_if_failed()
            return self._latest

    def drain_events(self) -> list[HardwareErrorEvent]:
        events = []
        while self._events:
            events.append(self._events.popleft())
        return events

    def _event(self, event: HardwareErrorEvent) -> None:
        self._events.append(event)
        if self._on_hardware_error is not None:
            self._on_hardware_error(event)

    def _raise_if_failed(self) -> None:
        exc = self._error
        if exc is None:
            if self._stopping or self._thread is None:
                raise RuntimeError(f"I/O thread of arm {self.arm.name} is not running")
            return
        if isinstance(exc, RobotStackError):
            raise ArmIOError(f"arm {self.arm.name}: {exc.message}", exc.hint) from exc
        raise ArmIOError(f"arm {self.arm.name}: bus I/O failed: {exc!r}") from exc

    # -- the thread ------------------------------------------------------------------------------
    def _run_prioritised(self) -> None:
        with fifo_priority(self.priority):
            self._run()

    def _run(self) -> None:
        next_deadline = time.monotonic() + self.period_s if self.period_s else None
        while True:
            with self._cv:
                while not self._stopping and self._goal is None and self._read_wanted <= self._done_ticket:
                    if next_deadline is not None:
                        remaining = next_deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        self._cv.wait(remaining)
                    else:
                        self._cv.wait()
                if self._stopping:
                    return
                serving = self._next_ticket
                goal, self._goal = self._goal, None
                read = self._read_wanted > self._done_ticket
            periodic = next_deadline is not None and time.monotonic() >= next_deadline
            began = time.monotonic()
            written_t = None
            try:
                if goal is not None:
                    self.arm.write_goal(goal)
                    written_t = time.monotonic()
                reading = self.arm.read() if (read or periodic) else None
            except BaseException as exc:  # noqa: BLE001 — handed to the caller, not swallowed
                with self._cv:
                    self._error = exc
                    self._cv.notify_all()
                return
            if periodic:
                assert next_deadline is not None and self.period_s is not None
                next_deadline += self.period_s
                now = time.monotonic()
                if next_deadline <= now:
                    missed = int((now - next_deadline) // self.period_s) + 1
                    self.overruns += missed
                    next_deadline += missed * self.period_s
            with self._cv:
                self.cycles += 1
                self.last_cycle_s = time.monotonic() - began
                if written_t is not None:
                    self.goal_written_t = written_t
                if reading is not None:
                    self._latest = reading
                self._done_ticket = serving
                self._cv.notify_all()
