"""Summary statistics of an episode's streams, stored in its attrs so an audit can read them cheaply."""

from __future__ import annotations

import numpy as np

from robot_stack.store.align import frame_age

LATE_FACTOR = 1.5  # an interval longer than 1.5 nominal periods is a late tick or a missing frame
STALE_PERIODS = 2.0  # a tick whose frame is older than two frame periods sees a stale picture


def tick_summary(t: np.ndarray, control_hz: float) -> dict:
    n = int(len(t))
    out: dict = {"ticks": n, "nominal_hz": float(control_hz)}
    if n < 2:
        return out
    periods = np.diff(t)
    duration = float(t[-1] - t[0])
    out.update(
        duration_s=duration,
        rate_hz=(n - 1) / duration if duration > 0 else None,
        period_ms={
            "p50": float(np.percentile(periods, 50) * 1e3),
            "p99": float(np.percentile(periods, 99) * 1e3),
            "max": float(periods.max() * 1e3),
        },
        late_ticks=int((periods > LATE_FACTOR / control_hz).sum()),
        out_of_order=int((periods < 0).sum()),
    )
    return out


def camera_summary(
    frame_t: np.ndarray, fps: float, tick_t: np.ndarray, tick_frame: np.ndarray, latency_s: float
) -> dict:
    m = int(len(frame_t))
    out: dict = {"frames": m, "nominal_fps": float(fps), "latency_s": float(latency_s)}
    if m >= 2:
        periods = np.diff(frame_t)
        duration = float(frame_t[-1] - frame_t[0])
        gaps = periods[periods > LATE_FACTOR / fps]
        out.update(
            fps=(m - 1) / duration if duration > 0 else None,
            gaps=int(len(gaps)),
            # a gap of k periods means k-1 frames the camera should have delivered and did not
            missing_frames=int(np.maximum(np.rint(gaps * fps) - 1, 0).sum()),
            max_gap_ms=float(periods.max() * 1e3),
            out_of_order=int((periods < 0).sum()),
        )
    age = frame_age(tick_t, frame_t, tick_frame, latency_s)
    out["ticks_without_frame"] = int((tick_frame < 0).sum())
    if np.isfinite(age).any():
        out["max_frame_age_ms"] = float(np.nanmax(age) * 1e3)
        out["stale_ticks"] = int((age > STALE_PERIODS / fps).sum())
    return out
