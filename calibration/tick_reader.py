"""Read every arm of the rig at once, each tick, without ever waiting on a dead bus.

Teleop, record and the deploy executor read their arms through this. All arms' I/O threads are asked
for a reading together; an arm late past `READ_CUTOFF` of the tick keeps the newest reading it has
(the one that missed the previous tick's cut-off, when it has arrived since), so an arm whose replies
always take longer than the cut-off still delivers, a tick late; an arm silent for `bus_deadline_s` (with the bus having given up on a try), or for four times that
whatever the bus says, is a `BusFault`; so is a motor's hardware-error alert. After the loop has
stopped, `diagnose` gives the bus its retries to name the motor that went quiet.
"""

from __future__ import annotations

import time

from calibration.rig_arms import RigArms
from drivers.dynamixel.arm import ArmReading
from drivers.dynamixel.arm_thread import ArmIOError
from robot_stack.errors import RobotStackError

BUS_DEADLINE_S = 0.05
# The tick's share a late arm is waited for: what is left pays for the policy or teleop step, the goal
# write, and a machine that holds the loop off its core for a few milliseconds.
READ_CUTOFF = 0.6
BUS_HINT = (
    "check that arm's power and cable chain; `robot-stack motors scan --arm NAME` shows which motors answer"
)


class BusFault(RobotStackError):
    """The runtime stopped on a bus fault: an arm stopped answering, or a motor raised an alert."""

    def __init__(self, message: str, hint: str | None = None, arm: str | None = None, silent: bool = False):
        super().__init__(message, hint)
        self.arm = arm
        self.silent = silent


class TickReader:
    def __init__(
        self, arms: RigArms, names: list[str], rate_hz: float, bus_deadline_s: float = BUS_DEADLINE_S
    ):
        self.arms = arms
        self.names = list(names)
        self.rate_hz = rate_hz
        self.bus_deadline_s = bus_deadline_s
        self.readings: dict[str, ArmReading] = {}
        self.fresh: set[str] = set()  # arms whose reading arrived this tick
        self.late_ticks = 0
        self._late_since: dict[str, tuple[float, int]] = {}

    def prime(self, timeout_s: float = 1.0) -> dict[str, ArmReading]:
        """A first reading of every arm (before the loop starts); a bus error is a BusFault."""
        for name in self.names:
            try:
                self.readings[name] = self.arms[name].io.read(timeout_s)
            except ArmIOError as exc:
                raise BusFault(exc.message, exc.hint or BUS_HINT, arm=name) from exc
            except TimeoutError:
                raise BusFault(
                    f"arm {name} gave no reading within {timeout_s:g} s", BUS_HINT, arm=name, silent=True
                ) from None
        self.fresh = set(self.names)
        return self.readings

    def read(self) -> dict[str, ArmReading]:
        self.check_alerts()
        requested = time.monotonic()
        tickets = {name: self.arms[name].io.request_read() for name in self.names}
        deadline = requested + READ_CUTOFF / self.rate_hz
        self.fresh = set()
        for name, ticket in tickets.items():
            io = self.arms[name].io
            try:
                self.readings[name] = io.wait(ticket, timeout=max(0.0, deadline - time.monotonic()))
                self.fresh.add(name)
                self._late_since.pop(name, None)
            except TimeoutError:
                self.late_ticks += 1
                if self._take_late_reading(name):
                    continue
                self.check_alerts()  # a motor that shut down explains a late arm better
                if self._silent(name, requested):
                    raise BusFault(
                        f"arm {name} gave no reading for {(time.monotonic() - self._late_since[name][0]) * 1000:.0f} ms",
                        BUS_HINT,
                        arm=name,
                        silent=True,
                    ) from None
            except ArmIOError as exc:
                raise BusFault(exc.message, exc.hint or BUS_HINT, arm=name) from exc
        self.check_alerts()
        return self.readings

    def _take_late_reading(self, name: str) -> bool:
        """A reading newer than the one held (an earlier tick's, past its cut-off) replaces it. The arm
        is not `fresh`: its bus is still busy with this tick's request."""
        try:
            newest = self.arms[name].io.latest()
        except ArmIOError as exc:
            raise BusFault(exc.message, exc.hint or BUS_HINT, arm=name) from exc
        held = self.readings.get(name)
        if newest is None or (held is not None and newest.seq <= held.seq):
            return False
        self.readings[name] = newest
        self._late_since.pop(name, None)
        return True

    def _silent(self, name: str, requested_at: float) -> bool:
        if name not in self.readings:
            return True
        bus = self.arms[name].arm.bus.stats
        failed_attempts = bus.retries + bus.failures
        since, failed_before = self._late_since.setdefault(name, (requested_at, failed_attempts))
        late_for = time.monotonic() - since
        return (late_for >= self.bus_deadline_s and failed_attempts > failed_before) or (
            late_for >= 4 * self.bus_deadline_s
        )

    def check_alerts(self) -> None:
        if not self.arms.alerted.is_set():
            return
        event = self.arms.alerts[0]
        raise BusFault(
            f"{event.label} on {event.port} reported {', '.join(event.errors)}; the motor turned its torque off",
            "find the cause (a blocked joint, a squeezed object, heat, supply voltage), then reboot the motor "
            "(`robot-stack motors reboot`) before starting again",
        )

    def still_working(self, names: list[str], broken: str | None = None) -> list[str]:
        """After the loop has stopped: the arms among `names` whose bus still works (to park them).
        `broken` is the arm a fault named. An arm only a tick late when another bus failed gets the
        silence bound to answer: on a loaded machine it does, and it must not be left unparked."""
        working = []
        for name in names:
            io = self.arms[name].io
            if name == broken or not io.is_running:
                continue
            if name in self._late_since and not self._answers(name, 4 * self.bus_deadline_s):
                continue
            working.append(name)
        return working

    def _answers(self, name: str, timeout_s: float) -> bool:
        io = self.arms[name].io
        try:
            reading = io.wait(io.request_read(), timeout=timeout_s)
        except (ArmIOError, TimeoutError, RuntimeError):
            return False
        self.readings[name] = reading
        self._late_since.pop(name, None)
        return True

    def diagnose(self, fault: BusFault) -> BusFault:
        """The loop has stopped; give the bus its retries to say which motor went quiet."""
        if fault.arm is None or not fault.silent:
            return fault
        io = self.arms[fault.arm].io
        try:
            io.wait(io.request_read(), timeout=1.0)
        except ArmIOError as exc:
            return BusFault(exc.message, exc.hint or BUS_HINT, arm=fault.arm)
        except (TimeoutError, RuntimeError):
            pass
        return fault
