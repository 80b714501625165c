"""Timing: did the control loop keep its rate, did every camera deliver every frame once, and how old
is the picture each tick is paired with?

Computed from the stored timestamps (never from the summary the writer stored, which an audit
double-checks rather than trusts):

- ticks: achieved rate, period percentiles, overruns (a tick more than `late_factor` periods after the
  one before) and stalls;
- cameras: achieved fps, gaps and the frames they lost (a gap of k periods lost k−1 frames), a camera
  that stopped before the episode ended, duplicated frames (byte-identical to the one before, found by
  frames_scan.py, or a repeated device timestamp), and the camera-to-tick skew: for every tick, how old
  its frame was (after the stored latency correction).
"""

from __future__ import annotations

import numpy as np

from robot_stack.app.audit.frames_scan import FrameScan
from robot_stack.app.audit.load import CameraData, EpisodeData
from robot_stack.app.audit.model import WARNING, Flag
from robot_stack.app.audit.runs import runs
from robot_stack.app.audit.thresholds import Thresholds
from robot_stack.store import align_frames, frame_age


def nominal_hz(ep: EpisodeData, default: float) -> float:
    rates = ep.attrs.get("rates") or {}
    return float(rates.get("control_hz") or default)


def check_ticks(ep: EpisodeData, hz: float, th: Thresholds) -> tuple[dict, list[Flag]]:
    t = ep.t
    if t is None or len(t) < 2 or not np.isfinite(t).all():
        return {}, []
    periods = np.diff(t)
    duration = float(t[-1] - t[0])
    late = periods > th.late_factor / hz
    stalls = periods > th.stall_periods / hz
    rate = (len(t) - 1) / duration if duration > 0 else 0.0
    metrics = {
        "duration_s": duration,
        "nominal_hz": hz,
        "rate_hz": rate,
        "period_ms": {
            "p50": float(np.percentile(periods, 50) * 1e3),
            "p99": float(np.percentile(periods, 99) * 1e3),
            "max": float(periods.max() * 1e3),
        },
        "overruns": int(late.sum()),
        "stalls": int(stalls.sum()),
    }
    flags = []
    rel = t - t[0]
    if late.mean() > th.overrun_fraction or stalls.any():
        flags.append(
            Flag(
                "tick_overruns",
                WARNING,
                f"{int(late.sum())} of {len(periods)} control periods overran (> {th.late_factor / hz * 1e3:.0f} ms), "
                f"longest {periods.max() * 1e3:.0f} ms",
                spans=tuple((float(rel[a]), float(rel[b])) for a, b in runs(late)[:50]),
            )
        )
    if rate < th.min_rate_fraction * hz:
        flags.append(Flag("low_rate", WARNING, f"control loop ran at {rate:.1f} Hz, nominal {hz:g} Hz"))
    return metrics, flags


def check_camera(
    ep: EpisodeData, cam: CameraData, scan: FrameScan | None, th: Thresholds
) -> tuple[dict, list[Flag]]:
    t = cam.t
    fps = cam.fps
    if t is None or fps <= 0 or ep.t is None or len(ep.t) == 0:
        return {}, []
    t0 = float(ep.t[0])
    name = cam.name
    m = len(t)
    metrics: dict = {"frames": m, "nominal_fps": fps, "latency_s": cam.latency_s}
    flags: list[Flag] = []
    if m == 0:
        span = ((0.0, float(ep.t[-1] - t0)),)
        return metrics, [
            Flag("dropped_frames", WARNING, f"{name}: no frames at all", camera=name, spans=span)
        ]
    periods = np.diff(t)
    gap_mask = periods > th.late_factor / fps
    lost = int(np.maximum(np.rint(periods[gap_mask] * fps) - 1, 0).sum())
    # a camera that stopped early: the ticks after its last frame should have had frames too
    tail_s = float(ep.t[-1] - (t[-1] - cam.latency_s))
    lost_tail = int(max(np.rint(tail_s * fps) - 1, 0)) if tail_s > th.late_factor / fps else 0
    duration = float(t[-1] - t[0])
    longest = float(periods.max()) if m >= 2 else 0.0
    metrics.update(
        fps=(m - 1) / duration if duration > 0 else 0.0,
        gaps=int(gap_mask.sum()),
        dropped=lost + lost_tail,
        longest_gap_ms=longest * 1e3,
    )
    if lost + lost_tail >= th.min_missing_frames:
        gap_spans = tuple((float(t[i] - t0), float(t[i + 1] - t0)) for i in np.flatnonzero(gap_mask)[:50])
        if lost_tail:
            gap_spans += ((float(t[-1] - t0), float(ep.t[-1] - t0)),)
        tail = f"; it stopped {tail_s:.2f} s before the last tick" if lost_tail else ""
        flags.append(
            Flag(
                "dropped_frames",
                WARNING,
                f"{name}: {lost + lost_tail} frame(s) missing in {int(gap_mask.sum())} gap(s), "
                f"longest {longest * 1e3:.0f} ms{tail}",
                camera=name,
                spans=gap_spans,
            )
        )
    flags += _duplicates(cam, scan, t, t0, metrics, th)
    flags += _skew(ep, cam, metrics, th)
    return metrics, flags


def _duplicates(cam, scan, t, t0, metrics, th) -> list[Flag]:
    same_bytes = scan.duplicate if scan is not None and scan.duplicate is not None else np.zeros(len(t), bool)
    same_device = np.zeros(len(t), bool)
    if cam.t_device is not None and len(cam.t_device) == len(t) and len(t) > 1:
        same_device[1:] = np.diff(cam.t_device) == 0
    dup = same_bytes | same_device if len(same_bytes) == len(t) else same_device
    metrics["duplicates"] = int(dup.sum())
    metrics["duplicate_bytes"] = int(same_bytes.sum())
    metrics["duplicate_device_t"] = int(same_device.sum())
    if dup.sum() < th.min_duplicate_frames:
        return []
    dup_runs = runs(dup)
    longest = max(b - a for a, b in dup_runs)
    why = []
    if same_bytes.any():
        why.append(f"{int(same_bytes.sum())} byte-identical to the frame before")
    if same_device.any():
        why.append(f"{int(same_device.sum())} with a repeated device timestamp")
    dup_spans = tuple((float(t[max(a - 1, 0)] - t0), float(t[b - 1] - t0)) for a, b in dup_runs[:50])
    return [
        Flag(
            "duplicate_frames",
            WARNING,
            f"{cam.name}: {int(dup.sum())} duplicated frame(s) ({', '.join(why)}); "
            f"longest run {longest + 1} identical frames",
            camera=cam.name,
            spans=dup_spans,
        )
    ]


def _skew(ep: EpisodeData, cam: CameraData, metrics: dict, th: Thresholds) -> list[Flag]:
    fps = cam.fps
    if not np.isfinite(cam.t).all() or not np.isfinite(ep.t).all():
        return []
    tick = align_frames(ep.t, cam.t, cam.latency_s)
    age = frame_age(ep.t, cam.t, tick, cam.latency_s)
    without = int((tick < 0).sum())
    metrics["ticks_without_frame"] = without
    flags = []
    hz = len(ep.t) / max(float(ep.t[-1] - ep.t[0]), 1e-9)
    if without / hz > th.late_start_s:
        flags.append(
            Flag(
                "late_camera_start",
                WARNING,
                f"{cam.name}: the first {without} ticks ({without / hz:.2f} s) have no frame yet",
                camera=cam.name,
                spans=((0.0, float(ep.t[without - 1] - ep.t[0])),),
            )
        )
    if np.isfinite(age).any():
        valid = age[np.isfinite(age)]
        metrics["skew_ms"] = {
            "p50": float(np.percentile(valid, 50) * 1e3),
            "p95": float(np.percentile(valid, 95) * 1e3),
            "max": float(valid.max() * 1e3),
        }
        metrics["stale_ticks"] = int((valid > 2.0 / fps).sum())
        if np.median(valid) > th.skew_periods / fps:
            flags.append(
                Flag(
                    "camera_skew",
                    WARNING,
                    f"{cam.name}: the median tick sees a frame {np.median(valid) * 1e3:.0f} ms old "
                    f"(one frame period is {1e3 / fps:.0f} ms)",
                    camera=cam.name,
                )
            )
    return flags
