"""The audit workflow: every episode read once (each camera's byte stream in one pass), the per-episode
checks, then the checks that need the whole dataset (outliers, pooled camera latency).

    report = run_audit("demos.zarr", AuditOptions(html=True))
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from robot_stack.app.audit import latency as lat
from robot_stack.app.audit.content import check_content, joint_labels
from robot_stack.app.audit.frames_scan import FrameScan, scan_frames
from robot_stack.app.audit.integrity import check_integrity
from robot_stack.app.audit.load import CameraData, EpisodeData, load_episode
from robot_stack.app.audit.model import ERROR, WARNING, AuditReport, EpisodeAudit, Flag, PlotSeries
from robot_stack.app.audit.outliers import Shape, find_outliers, shape_of
from robot_stack.app.audit.shard_reader import ShardedBytes
from robot_stack.app.audit.thresholds import Thresholds
from robot_stack.app.audit.timing import check_camera, check_ticks, nominal_hz
from robot_stack.store import Dataset
from robot_stack.store.layout import EPISODES, episode_name

PLOT_POINTS = 400
THUMB_WIDTH = 160
READERS = 2  # camera streams read at once (4 measured slower here: the reads compete for the disk)


@dataclass
class AuditOptions:
    thresholds: Thresholds = field(default_factory=Thresholds)
    html: bool = False  # keep what the HTML page needs: plot series and contact-sheet thumbnails
    thumbnails: int = 8  # frames per camera per episode on the contact sheet
    latency_frames: int = 3000  # frames per camera decoded (small, greyscale) for the latency estimate
    episodes: list[int] | None = None  # only these (default: all)


def run_audit(
    path: str | Path, options: AuditOptions | None = None, progress: Callable[[int, int], None] | None = None
) -> AuditReport:
    started = time.perf_counter()
    options = options or AuditOptions()
    th = options.thresholds
    ds = Dataset.open(path)
    rig = ds.rig
    cameras = list(rig.cameras)
    indices = ds.indices()
    if options.episodes is not None:
        indices = [k for k in indices if k in set(options.episodes)]
    report = AuditReport(str(ds.path), rig.name, cameras, [])
    for leftover in ds.leftovers:
        if not leftover.removed:  # another process holds the dataset: its take in progress, not damage
            report.dataset_flags.append(
                Flag("recording", WARNING, f"being written now, not audited: {leftover}")
            )
        else:
            severity = ERROR if leftover.kind == "partial" else WARNING
            report.dataset_flags.append(Flag("partial", severity, f"left by a crash: {leftover}"))
    # the latency estimate decodes at most `latency_frames` per camera, in windows of at least
    # WINDOW_MIN frames: with many episodes, only every `every`-th episode gets a window
    window = max(options.latency_frames // max(len(indices), 1), lat.WINDOW_MIN)
    every = max(math.ceil(len(indices) * window / max(options.latency_frames, 1)), 1)
    curves: dict[str, list[lat.LagStats]] = {c: [] for c in cameras}
    shapes: dict[int, Shape] = {}
    # one pool reads the cameras' byte streams side by side (file reads overlap the checks of the
    # bytes already read), the other decodes frames for the latency estimate
    with ThreadPoolExecutor(2) as pool, ThreadPoolExecutor(READERS) as readers:
        for done, index in enumerate(indices, 1):
            ep = load_episode(index, ds.path / EPISODES / episode_name(index))
            frames = window if options.latency_frames > 0 and (done - 1) % every == 0 else 0
            audit, ep_curves = _audit_episode(ep, rig, options, frames, pool, readers)
            report.episodes.append(audit)
            for name, curve in ep_curves.items():
                curves.setdefault(name, []).append(curve)
            if ep.joints_ok and ep.observation.ndim == 2 and np.isfinite(ep.observation).all():
                shape = shape_of(str(ep.attrs.get("task", "")), ep.rel_t, ep.observation)
                if shape is not None and audit.worst != ERROR:
                    shapes[index] = shape
            if progress is not None:
                progress(done, len(indices))
    _dataset_checks(report, shapes, curves, th)
    report.seconds = time.perf_counter() - started
    return report


def _audit_episode(ep: EpisodeData, rig, options: AuditOptions, latency_frames: int, pool, readers):
    th = options.thresholds
    audit = EpisodeAudit(ep.index, ep.attrs)
    hz = nominal_hz(ep, rig.control_rate_hz)
    path = None
    if ep.joints_ok and np.isfinite(ep.observation).all() and np.all(np.diff(ep.t) > 0):
        path = lat.path_length(ep.t, ep.observation)
    pending = {}
    windows: dict[str, tuple[int, int]] = {}
    thumbs: dict[str, list[int]] = {}
    for name, cam in ep.cameras.items():
        if cam.jpeg is None or cam.offsets is None:
            continue
        wanted: set[int] = set()
        if path is not None and latency_frames > 0 and _times_ok(cam):
            windows[name] = lat.choose_window(cam.t, ep.t, path, latency_frames)
            wanted.update(range(*windows[name]))
        if options.html and cam.frames:
            thumbs[name] = _thumbnail_frames(ep, cam, options.thumbnails)
            wanted.update(thumbs[name])
        stream = ShardedBytes.open(ep.path / "cameras" / name / "jpeg") or cam.jpeg
        pending[name] = readers.submit(scan_frames, stream, cam.offsets, wanted)
    scans: dict[str, FrameScan] = {name: job.result() for name, job in pending.items()}

    metrics, flags = check_integrity(ep, scans, list(rig.cameras))
    audit.metrics["integrity"] = metrics
    audit.add(flags)
    metrics, flags = check_ticks(ep, hz, th)
    audit.metrics["ticks"] = metrics
    audit.add(flags)
    audit.metrics["cameras"] = {}
    curves = {}
    for name, cam in ep.cameras.items():
        metrics, flags = check_camera(ep, cam, scans.get(name), th) if _times_usable(cam) else ({}, [])
        audit.add(flags)
        if name in windows and name in scans:
            i0, i1 = windows[name]
            jpegs = [scans[name].wanted.get(i) for i in range(i0, i1)]
            if all(j is not None for j in jpegs) and i1 - i0 >= 3:
                energy = lat.motion_energy(jpegs, int(cam.attrs.get("width") or 0), pool)
                curve = lat.lag_stats(cam.t[i0:i1], energy, ep.t, path)
                if curve is not None:
                    curves[name] = curve
                    if curve.samples >= lat.MIN_SAMPLES:
                        est = lat.estimate([curve], th.latency_min_z)
                        metrics["latency"] = est.as_dict()
        audit.metrics["cameras"][name] = metrics
    labels, gripper = joint_labels(rig, ep.joint_names, ep.observation.shape[1] if ep.joints_ok else 0)
    if ep.joints_ok:
        metrics, flags = check_content(ep, gripper, th)
        audit.metrics["content"] = metrics
        audit.add(flags)
    if options.html:
        if ep.joints_ok and ep.observation.shape == ep.action.shape:
            audit.plot = _plot_series(ep, labels)
        for name, frames in thumbs.items():
            audit.thumbnails[name] = _thumbnails(ep, ep.cameras[name], scans[name], frames)
    return audit, curves


def _times_ok(cam: CameraData) -> bool:
    t = cam.t
    return (
        t is not None
        and len(t) == cam.frames
        and len(t) > 1
        and np.isfinite(t).all()
        and np.all(np.diff(t) > 0)
    )


def _times_usable(cam: CameraData) -> bool:
    """One finite timestamp per frame (order is integrity's business)."""
    return cam.t is not None and len(cam.t) == cam.frames and bool(np.isfinite(cam.t).all())


def _thumbnail_frames(ep: EpisodeData, cam: CameraData, count: int) -> list[int]:
    m = cam.frames
    if cam.t is None or len(cam.t) != m or not np.isfinite(cam.t).all():
        return sorted({int(i) for i in np.linspace(0, m - 1, min(count, m))})
    start, end = float(cam.t[0]), float(cam.t[-1])
    if ep.t is not None and len(ep.t) and np.isfinite(ep.t).all():
        start, end = float(ep.t[0]), float(ep.t[-1])
    times = start + (np.arange(count) + 0.5) / count * (end - start)
    return sorted({int(min(max(np.searchsorted(cam.t, x), 0), m - 1)) for x in times})


def _thumbnails(
    ep: EpisodeData, cam: CameraData, scan: FrameScan, frames: list[int]
) -> list[tuple[float, bytes]]:
    width = int(cam.attrs.get("width") or 0)
    flag = cv2.IMREAD_REDUCED_COLOR_4 if width >= 4 * THUMB_WIDTH else cv2.IMREAD_REDUCED_COLOR_2
    if width < 2 * THUMB_WIDTH:
        flag = cv2.IMREAD_COLOR
    t0 = float(ep.t[0]) if ep.t is not None and len(ep.t) else 0.0
    out = []
    for i in frames:
        data = scan.wanted.get(i)
        img = None if data is None else cv2.imdecode(np.frombuffer(data, np.uint8), flag)
        if img is None:
            continue  # an unreadable frame is flagged by integrity; the sheet shows what there is
        if img.shape[1] > THUMB_WIDTH:
            img = cv2.resize(
                img, (THUMB_WIDTH, round(img.shape[0] * THUMB_WIDTH / img.shape[1])), cv2.INTER_AREA
            )
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 75])  # BGR in, BGR out
        t = float(cam.t[i] - t0) if cam.t is not None and i < len(cam.t) else float("nan")
        if ok:
            out.append((t, buf.tobytes()))
    return out


def _plot_series(ep: EpisodeData, labels: list[str]) -> PlotSeries:
    n = len(ep.t)
    keep = np.unique(np.linspace(0, n - 1, min(n, PLOT_POINTS)).astype(int))
    return PlotSeries(ep.rel_t[keep], ep.observation[keep], ep.action[keep], labels)


def _dataset_checks(report: AuditReport, shapes: dict[int, Shape], curves: dict, th: Thresholds) -> None:
    episodes = report.episodes
    # joint count: one value across the dataset
    widths = [ep.metrics["integrity"].get("joints") for ep in episodes]
    known = [w for w in widths if w is not None]
    if known:
        usual = max(set(known), key=known.count)
        for ep, w in zip(episodes, widths, strict=True):
            if w is not None and w != usual:
                ep.add(
                    [Flag("shape_mismatch", ERROR, f"{w} joints per tick; the other episodes have {usual}")]
                )
    outliers, flags = find_outliers(shapes, th)
    for ep in episodes:
        ep.add(flags.get(ep.index, []))
        for task in outliers.values():
            if task.get("checked") and ep.index in task["distance_rad"]:
                ep.metrics["outlier"] = {
                    "length_ratio": task["lengths_s"][ep.index] / task["median_length_s"],
                    "distance_rad": task["distance_rad"][ep.index],
                }
    latency, curves_out = {}, {}
    for name, cam_curves in curves.items():
        est = lat.estimate(cam_curves, th.latency_min_z)
        if est is None:
            continue
        stored = [
            float(ep.metrics["cameras"].get(name, {}).get("latency_s", 0.0) or 0.0)
            for ep in episodes
            if name in ep.metrics.get("cameras", {})
        ]
        stored_s = float(np.median(stored)) if stored else 0.0
        fps = next(
            (
                ep.metrics["cameras"][name].get("nominal_fps")
                for ep in episodes
                if ep.metrics["cameras"].get(name)
            ),
            30.0,
        )
        latency[name] = {**est.as_dict(), "stored_s": stored_s}
        curves_out[name] = est.curve
        if est.latency_s is not None:
            residual = est.latency_s - stored_s
            latency[name]["residual_s"] = residual
            if abs(residual) > th.latency_tolerance_periods / float(fps or 30.0):
                report.dataset_flags.append(
                    Flag(
                        "camera_latency",
                        WARNING,
                        f"{name}: frames lag the joint stream by {est.latency_s * 1e3:.0f} ms "
                        f"(r = {est.peak_r:.2f}); the alignment corrects {stored_s * 1e3:.0f} ms. "
                        f"Record with camera_latency_s={{'{name}': {est.latency_s:.3f}}}",
                        camera=name,
                    )
                )
    durations = [ep.metrics.get("ticks", {}).get("duration_s", 0.0) for ep in episodes]
    report.overview = {
        "episodes": len(episodes),
        "duration_s": float(sum(durations)),
        "frames": int(sum(sum(ep.metrics["integrity"]["frames"].values()) for ep in episodes)),
        "bytes_read": int(sum(ep.metrics["integrity"]["bytes_read"] for ep in episodes)),
        "tasks": _count(str(ep.attrs.get("task", "")) for ep in episodes),
        "joints": usual if known else None,
        "outliers": outliers,
        "latency": latency,
        "latency_curves": {"lags_s": lat.LAGS_S, **curves_out},  # for the page; not in the JSON
        "flagged_episodes": sum(1 for ep in episodes if ep.flags),
    }


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out
