"""One clock interface for real time, simulated physics time and lockstep evaluation.

Loops ask a clock for `now()` and to `sleep_until(deadline)`; they never call `time.sleep(dt)`,
so the same loop code runs against the wall clock on a robot and against a clock a test or a
fast evaluation advances by hand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic time line."""
        ...

    def sleep_until(self, deadline: float) -> None:
        """Return once now() >= deadline (at once if it already is)."""
        ...


class MonotonicClock:
    """The host's monotonic clock. Sleeps until shortly before a deadline, then spins.

    The kernel wakes a sleeper up to a few hundred microseconds late (timer slack, scheduling);
    spinning through the last `spin_s` trades a little CPU for a wake-up within microseconds.
    """

    def __init__(self, spin_s: float = 0.0005):
        self.spin_s = spin_s

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def sleep_until(self, deadline: float) -> None:
        remaining = deadline - time.monotonic() - self.spin_s
        if remaining > 0:
            time.sleep(remaining)
        while time.monotonic() < deadline:
            pass


class LockstepClock:
    """Time that moves only when told to: deterministic tests and faster-than-real-time evaluation.

    With `auto_advance` a sleeper moves time to its own deadline (one loop drives time, e.g. an
    evaluation stepping physics as fast as it can; `step_to` is called first so the simulation
    catches up to the new time). Without it, sleepers block until another thread calls `advance`.
    """

    def __init__(
        self,
        start: float = 0.0,
        auto_advance: bool = True,
        step_to: Callable[[float], None] | None = None,
    ):
        self._t = start
        self.auto_advance = auto_advance
        self.step_to = step_to
        self._cond = threading.Condition()

    def now(self) -> float:
        return self._t

    def advance(self, dt: float) -> None:
        if dt < 0:
            raise ValueError("a lockstep clock cannot go backwards")
        self.advance_to(self._t + dt)

    def advance_to(self, t: float) -> None:
        with self._cond:
            if t < self._t:
                raise ValueError(f"a lockstep clock cannot go backwards ({t} < {self._t})")
            if self.step_to is not None:
                self.step_to(t)
            self._t = t
            self._cond.notify_all()

    def sleep_until(self, deadline: float, timeout_s: float | None = None) -> None:
        if self.auto_advance:
            if deadline > self._t:
                self.advance_to(deadline)
            return
        with self._cond:
            if not self._cond.wait_for(lambda: self._t >= deadline, timeout=timeout_s):
                raise TimeoutError(f"lockstep time did not reach {deadline:.6f} s (now {self._t:.6f} s)")
