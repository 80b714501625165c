"""A fixed-rate loop on absolute deadlines, with the statistics to prove it kept time.

Tick k is due at t0 + k·dt. The loop sleeps until the deadline (see MonotonicClock), never
sleeps a relative dt, so it cannot drift. When the body overruns past later deadlines those ticks
are skipped and counted — the loop never bursts to catch up, because a burst of commands to a
motor is worse than a missing one.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np

from robot_stack.clock import Clock, MonotonicClock
from robot_stack.realtime import realtime_priority


@dataclass(frozen=True)
class Tick:
    index: int  # position on the deadline grid; skipped ticks leave gaps
    deadline: float  # when it was due (clock time)
    start: float  # when the body started (clock time)


@dataclass(frozen=True)
class Percentiles:
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: np.ndarray) -> Percentiles:
        if seconds.size == 0:
            return cls(math.nan, math.nan, math.nan)
        ms = seconds * 1e3
        return cls(float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), float(ms.max()))


@dataclass(frozen=True)
class Overrun:
    """One body that ended past the next deadline, and where its time went."""

    at: float  # when the body started (clock time)
    wake_ms: float  # start − deadline
    body_ms: float
    sections: dict[str, float]  # ms of each section the body entered

    def describe(self, since: float = 0.0) -> str:
        """'0.42 s in: 30.4 ms (bus_read 12.5, hand_off 5.9), woken 6.7 ms late'"""
        parts = sorted(self.sections.items(), key=lambda item: -item[1])
        inner = ", ".join(f"{name} {ms:.1f}" for name, ms in parts if ms >= 1.0)
        return (
            f"{self.at - since:.2f} s in: {self.body_ms:.1f} ms"
            + (f" ({inner})" if inner else "")
            + (f", woken {self.wake_ms:.1f} ms late" if self.wake_ms >= 1.0 else "")
        )


@dataclass(frozen=True)
class LoopStats:
    rate_hz: float
    realtime: bool  # ran as a SCHED_FIFO thread
    ticks: int  # bodies run
    overruns: int  # bodies that ended after the next deadline
    skipped_ticks: int  # deadlines dropped because of overruns
    achieved_rate_hz: float
    period_error: Percentiles  # |actual period − nominal|, between consecutive ticks
    wake_latency: Percentiles  # body start − deadline
    busy: Percentiles  # body duration
    sections: dict[str, Percentiles] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


OVERRUN_LOG = 64  # overruns kept in detail
LIVE_WINDOW_S = 60.0  # what a live panel's percentiles cover


class SampleRing:
    """Fixed-size history of float samples: no allocation per tick."""

    def __init__(self, size: int):
        self._data = np.zeros(size, dtype=np.float64)
        self._n = 0

    def add(self, value: float) -> None:
        self._data[self._n % self._data.size] = value
        self._n += 1

    def values(self, recent: int | None = None) -> np.ndarray:
        """The samples held (the newest `recent` of them, if given), in no particular order."""
        n = min(self._n, self._data.size)
        if recent is None or recent >= n:
            return self._data[:n].copy()
        end = self._n % self._data.size
        if end >= recent:
            return self._data[end - recent : end].copy()
        return np.concatenate((self._data[n - (recent - end) : n], self._data[:end]))

    def last(self) -> float:
        return float(self._data[(self._n - 1) % self._data.size]) if self._n else math.nan

    def clear(self) -> None:
        self._n = 0


class _Section:
    __slots__ = ("_ring", "_t0")

    def __init__(self, ring: SampleRing):
        self._ring = ring
        self._t0 = 0.0

    def __enter__(self) -> None:
        self._t0 = time.perf_counter()

    def __exit__(self, *exc) -> None:
        self._ring.add(time.perf_counter() - self._t0)


class RateLoop:
    """Runs a body at `rate_hz` on a clock's absolute deadlines and keeps timing statistics.

    Use either `for tick in loop.ticks(stop): ...` or `loop.run(body, stop)`; time parts of the
    body with `with loop.section("bus_read"): ...`. Statistics cover the last `history` ticks.
    The thread iterating the loop runs at real-time `priority` where the OS allows (0: never).
    """

    def __init__(
        self,
        rate_hz: float,
        clock: Clock | None = None,
        priority: int = 40,
        history: int = 1 << 16,
    ):
        if not rate_hz > 0:
            raise ValueError(f"rate must be positive, got {rate_hz}")
        self.rate_hz = float(rate_hz)
        self.dt = 1.0 / self.rate_hz
        self.clock = clock or MonotonicClock()
        # Lockstep time needs no scheduling help; only real deadlines do.
        self.priority = priority if isinstance(self.clock, MonotonicClock) else 0
        self.realtime = False
        self._history = history
        self._period_error = SampleRing(history)
        self._wake = SampleRing(history)
        self._busy = SampleRing(history)
        self._sections: dict[str, _Section] = {}
        self._section_rings: dict[str, SampleRing] = {}
        self._lock = threading.Lock()
        # the latest overruns in detail: which part of the body took the time, and when
        self.overrun_log: deque[Overrun] = deque(maxlen=OVERRUN_LOG)
        self.reset_stats()
        # numpy imports numpy.ma on the first percentile it computes (≈ 30 ms, much of it holding the
        # interpreter lock): a first stats() call while the loop runs made the first take's first
        # tick overrun. Paid here, before any loop runs.
        Percentiles.of(np.zeros(2))

    def reset_stats(self) -> None:
        with self._lock:
            for ring in (self._period_error, self._wake, self._busy, *self._section_rings.values()):
                ring.clear()
            self.tick_count = 0
            self.overruns = 0
            self.skipped_ticks = 0
            self.overrun_log.clear()
            self._first_start: float | None = None
            self._last_start: float | None = None

    def section(self, name: str) -> _Section:
        sec = self._sections.get(name)
        if sec is None:
            ring = SampleRing(self._history)
            self._section_rings[name] = ring
            sec = self._sections[name] = _Section(ring)
        return sec

    def ticks(
        self,
        stop: threading.Event | None = None,
        max_ticks: int | None = None,
        duration_s: float | None = None,
    ) -> Iterator[Tick]:
        with realtime_priority(self.priority) as self.realtime:
            yield from self._ticks(stop, max_ticks, duration_s)

    def _ticks(self, stop, max_ticks, duration_s) -> Iterator[Tick]:
        clock = self.clock
        t0 = clock.now()
        end_time = t0 + duration_s if duration_s is not None else math.inf
        k = 0
        run = 0
        while True:
            deadline = t0 + k * self.dt
            if deadline >= end_time or (max_ticks is not None and run >= max_ticks):
                return
            if stop is not None and stop.is_set():
                return
            clock.sleep_until(deadline)
            start = clock.now()
            self._record_start(deadline, start)
            body_started = time.perf_counter()  # the sections' clock: those entered since ran in this body
            yield Tick(index=k, deadline=deadline, start=start)
            run += 1
            finished = clock.now()
            self._busy.add(finished - start)
            next_k = k + 1
            if finished > t0 + next_k * self.dt:
                # Overran: resume on the first deadline still ahead, never burst to catch up.
                resume_k = math.floor((finished - t0) / self.dt) + 1
                sections = {
                    name: round(self._section_rings[name].last() * 1e3, 2)
                    for name, section in list(self._sections.items())
                    if section._t0 >= body_started
                }
                overrun = Overrun(
                    start, round((start - deadline) * 1e3, 2), round((finished - start) * 1e3, 2), sections
                )
                with self._lock:
                    self.overruns += 1
                    self.skipped_ticks += resume_k - next_k
                    self.overrun_log.append(overrun)
                next_k = resume_k
            k = next_k

    def run(
        self,
        body: Callable[[Tick], bool | None],
        stop: threading.Event | None = None,
        max_ticks: int | None = None,
        duration_s: float | None = None,
    ) -> LoopStats:
        """Call body(tick) every period until stop is set, body returns False, or a limit is hit."""
        for tick in self.ticks(stop, max_ticks, duration_s):
            if body(tick) is False:
                break
        return self.stats()

    def _record_start(self, deadline: float, start: float) -> None:
        with self._lock:
            self._wake.add(start - deadline)
            if self._last_start is not None:
                self._period_error.add(abs((start - self._last_start) - self.dt))
            else:
                self._first_start = start
            self._last_start = start
            self.tick_count += 1

    def overruns_since(self, t: float) -> list[Overrun]:
        """The overruns (of the last OVERRUN_LOG) whose body started at or after clock time t."""
        with self._lock:
            return [o for o in self.overrun_log if o.at >= t]

    def live_stats(self) -> LoopStats:
        """`stats` over the last LIVE_WINDOW_S: what a panel refreshing several times a second shows."""
        return self.stats(recent=int(LIVE_WINDOW_S * self.rate_hz))

    def stats(self, recent: int | None = None) -> LoopStats:
        """Rate, overruns and percentiles over the history (or its newest `recent` ticks: a live
        panel's view, which sorts a minute of samples rather than twenty)."""
        # The samples are copied under the lock and sorted outside it: the loop takes the lock at the
        # start of every tick, and sorting 2^16 samples per ring would hold it for milliseconds.
        with self._lock:
            span = (self._last_start or 0.0) - (self._first_start or 0.0)
            achieved = (self.tick_count - 1) / span if span > 0 else math.nan
            counts = (self.tick_count, self.overruns, self.skipped_ticks)
            period, wake = self._period_error.values(recent), self._wake.values(recent)
        # written by the loop thread alone, outside the lock: a copy may be a tick behind, never torn
        busy = self._busy.values(recent)
        sections = {n: r.values(recent) for n, r in list(self._section_rings.items())}
        return LoopStats(
            rate_hz=self.rate_hz,
            realtime=self.realtime,
            ticks=counts[0],
            overruns=counts[1],
            skipped_ticks=counts[2],
            achieved_rate_hz=achieved,
            period_error=Percentiles.of(period),
            wake_latency=Percentiles.of(wake),
            busy=Percentiles.of(busy),
            sections={n: Percentiles.of(v) for n, v in sections.items()},
        )
