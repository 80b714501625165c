"""Per-take figures and the quality flags shown after each episode and stored in its attrs.

A flag is a short phrase an operator reads at a glance ("rate 46.2 Hz < 50 Hz", "cam_low: 12 frames
dropped", "idle 4.1 s"); an empty list means a clean take. The store's own statistics (per-tick
periods, frame gaps, frame age) are in the episode's `stats`; these flags are what the recorder saw
live, including what never reached the store (frames a camera dropped, items the writer refused).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

RATE_TOLERANCE = 0.95  # a take below 95 % of the control rate is flagged
IDLE_SPEED_RAD_S = 0.05  # leaders slower than this (every joint) count as idle
IDLE_FLAG_S = 3.0  # an idle stretch this long is flagged


@dataclass
class CameraFigures:
    frames: int  # stored in the take
    expected: int  # duration × fps
    drops: int  # lost before reaching the recorder (device/driver), counted by the camera
    missed: int  # overwritten in the camera's ring before the recorder collected them
    rejected: int  # refused by the writer (hand-off queue full)
    stalls: int  # times the camera went silent during the take
    stalled_at_end: bool

    @property
    def lost(self) -> int:
        return self.drops + self.missed + self.rejected


@dataclass
class TakeFigures:
    duration_s: float
    ticks: int
    control_hz: float
    rate_hz: float
    period_p99_ms: float
    overruns: int  # control-loop bodies that ended past the next deadline, during the take
    rejected_ticks: int
    idle_s: float  # longest stretch with the leaders still
    cameras: dict[str, CameraFigures] = field(default_factory=dict)
    # each overrun: when into the take, how long the body took, and its sections (ms)
    overrun_ticks: list[dict] = field(default_factory=list)
    success: bool | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def tick_rate(t: np.ndarray) -> tuple[float, float]:
    """Achieved rate (Hz) and p99 tick period (ms) of tick times t."""
    if len(t) < 2 or t[-1] <= t[0]:
        return float("nan"), float("nan")
    return (len(t) - 1) / float(t[-1] - t[0]), float(np.percentile(np.diff(t), 99) * 1e3)


def longest_idle_s(t: np.ndarray, leader: np.ndarray, speed_rad_s: float = IDLE_SPEED_RAD_S) -> float:
    """The longest run of ticks in which no leader joint moved faster than `speed_rad_s`."""
    if len(t) < 2:
        return 0.0
    dt = np.maximum(np.diff(t), 1e-6)
    speed = np.abs(np.diff(leader, axis=0)).max(axis=1) / dt
    idle = speed < speed_rad_s
    best = run = 0.0
    for still, step in zip(idle, dt, strict=True):
        run = run + step if still else 0.0
        best = max(best, run)
    return float(best)


def quality_flags(fig: TakeFigures) -> list[str]:
    flags = []
    if np.isfinite(fig.rate_hz) and fig.rate_hz < RATE_TOLERANCE * fig.control_hz:
        flags.append(f"rate {fig.rate_hz:.1f} Hz < {fig.control_hz:g} Hz")
    if fig.overruns:
        flag = f"{fig.overruns} loop overrun{'s' if fig.overruns != 1 else ''}"
        if fig.overrun_ticks:
            worst = max(fig.overrun_ticks, key=lambda o: o["body_ms"])
            flag += f" ({'worst ' if len(fig.overrun_ticks) > 1 else ''}{worst['description']})"
        flags.append(flag)
    if fig.rejected_ticks:
        flags.append(f"{fig.rejected_ticks} ticks refused by the writer")
    for name, cam in fig.cameras.items():
        if cam.stalls or cam.stalled_at_end:
            flags.append(f"{name}: stalled")
        if cam.lost:
            parts = [
                f"{n} {what}"
                for n, what in ((cam.drops, "dropped"), (cam.missed, "missed"), (cam.rejected, "refused"))
                if n
            ]
            flags.append(f"{name}: frames {', '.join(parts)}")
    if fig.idle_s >= IDLE_FLAG_S:
        flags.append(f"idle {fig.idle_s:.1f} s")
    return flags
