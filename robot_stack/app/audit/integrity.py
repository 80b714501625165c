"""Integrity: is the episode whole and self-consistent, as the store's layout promises?

Every array readable and of its promised type (load.py), one row per tick in every per-tick array,
one timestamp and one offset per frame, frame byte stream as long as its offsets and every frame a
whole JPEG (frames_scan.py), timestamps increasing, the stored alignment valid and equal to the one
recomputed from the timestamps, and the episode sealed as complete.
"""

from __future__ import annotations

import numpy as np

from robot_stack.app.audit.frames_scan import FrameScan
from robot_stack.app.audit.load import CameraData, EpisodeData
from robot_stack.app.audit.model import ERROR, Flag
from robot_stack.store import align_frames


def check_integrity(
    ep: EpisodeData, scans: dict[str, FrameScan], rig_cameras: list[str]
) -> tuple[dict, list[Flag]]:
    flags = list(ep.problems)
    status = ep.attrs.get("status")
    if ep.attrs and status != "complete":
        flags.append(Flag("partial", ERROR, f"episode status is {status!r}, not 'complete'"))
    flags += _joint_shapes(ep)
    if ep.t is not None:
        flags += _monotonic(ep.t, ep.t, "joints/t", None)
    for name in rig_cameras:
        if name not in ep.cameras:
            flags.append(
                Flag("missing_camera", ERROR, f"camera {name} of the rig has no stream", camera=name)
            )
    frames = {}
    for name, cam in ep.cameras.items():
        frames[name] = cam.frames
        flags += _camera(ep, cam, scans.get(name))
    metrics = {
        "ticks": None if ep.t is None else len(ep.t),
        "joints": None if ep.observation is None or ep.observation.ndim != 2 else ep.observation.shape[1],
        "frames": frames,
        "bytes_read": sum(s.bytes_read for s in scans.values()),
    }
    return metrics, flags


def _joint_shapes(ep: EpisodeData) -> list[Flag]:
    flags = []
    if ep.t is None:
        return flags
    n = len(ep.t)
    if n == 0:
        return [Flag("truncated", ERROR, "the episode has no control ticks")]
    for name, arr in (("observation", ep.observation), ("action", ep.action), *ep.extras.items()):
        if arr is None:
            continue
        if arr.shape[0] != n:
            flags.append(
                Flag(
                    "truncated" if arr.shape[0] < n else "shape_mismatch",
                    ERROR,
                    f"joints/{name} has {arr.shape[0]} rows for {n} ticks",
                )
            )
    obs, act = ep.observation, ep.action
    if obs is not None and act is not None and obs.shape[1:] != act.shape[1:]:
        flags.append(
            Flag(
                "shape_mismatch",
                ERROR,
                f"observation rows have {obs.shape[1:]} values, action rows {act.shape[1:]}",
            )
        )
    if obs is not None and ep.joint_names and len(ep.joint_names) != obs.shape[1]:
        flags.append(
            Flag(
                "shape_mismatch",
                ERROR,
                f"{len(ep.joint_names)} joint names for {obs.shape[1]} observation values",
            )
        )
    for name, arr in (("t", ep.t), ("observation", obs), ("action", act)):
        if arr is not None and not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).reshape(len(arr), -1).any(axis=1).sum())
            flags.append(Flag("non_finite", ERROR, f"joints/{name} has NaN or infinite values in {bad} rows"))
    return flags


def _monotonic(t: np.ndarray, tick_t: np.ndarray | None, where: str, camera: str | None) -> list[Flag]:
    """Strictly increasing timestamps; each step back (or repeat) is named with its place in time."""
    if len(t) < 2:
        return []
    steps = np.diff(t)
    bad = np.flatnonzero(~(steps > 0))
    if not len(bad):
        return []
    t0 = float(tick_t[0]) if tick_t is not None and len(tick_t) else float(t[0])
    first = int(bad[0])
    spans = tuple((float(t[i] - t0), float(t[i + 1] - t0)) for i in bad[:20])
    return [
        Flag(
            "non_monotonic_time",
            ERROR,
            f"{where} goes back or repeats {len(bad)} time(s); first at sample {first + 1} "
            f"({steps[first] * 1e3:+.1f} ms)",
            camera=camera,
            spans=spans,
        )
    ]


def _camera(ep: EpisodeData, cam: CameraData, scan: FrameScan | None) -> list[Flag]:
    name = cam.name
    where = f"cameras/{name}"
    flags = []
    m = cam.frames
    if cam.offsets is not None and len(cam.offsets):
        steps = np.diff(cam.offsets.astype(np.int64))
        if cam.offsets[0] != 0 or (steps < 0).any():
            flags.append(
                Flag("shape_mismatch", ERROR, f"{where}/jpeg_offsets is not increasing from 0", camera=name)
            )
        if cam.jpeg is not None and int(cam.jpeg.shape[0]) < int(cam.offsets[-1]):
            flags.append(
                Flag(
                    "truncated",
                    ERROR,
                    f"{where}/jpeg holds {int(cam.jpeg.shape[0])} bytes; its offsets need {int(cam.offsets[-1])}",
                    camera=name,
                )
            )
    if cam.t is not None:
        if cam.offsets is not None and len(cam.t) != m:
            flags.append(_count_flag(where, "t", len(cam.t), m, "frames", name))
        flags += _monotonic(cam.t, ep.t, f"{where}/t", name)
    if cam.t_device is not None and len(cam.t_device) != m:
        flags.append(_count_flag(where, "t_device", len(cam.t_device), m, "frames", name))
    if cam.tick is not None and ep.t is not None:
        n = len(ep.t)
        if len(cam.tick) != n:
            flags.append(_count_flag(where, "tick", len(cam.tick), n, "ticks", name))
        else:
            flags += _alignment(ep, cam)
    if scan is not None:
        if scan.error:
            flags.append(Flag("unreadable", ERROR, f"{where}/jpeg: {scan.error}", camera=name))
        elif scan.bad:
            flags.append(
                Flag(
                    "bad_frames",
                    ERROR,
                    f"{where}: {len(scan.bad)} frame(s) are not whole JPEG files (first: frame {scan.bad[0]})",
                    camera=name,
                )
            )
    return flags


def _alignment(ep: EpisodeData, cam: CameraData) -> list[Flag]:
    tick, m = cam.tick, len(cam.t) if cam.t is not None else cam.frames
    where = f"cameras/{cam.name}/tick"
    out_of_range = int(((tick < -1) | (tick >= m)).sum())
    if out_of_range:
        return [
            Flag(
                "bad_alignment",
                ERROR,
                f"{where}: {out_of_range} index(es) outside 0…{m - 1}",
                camera=cam.name,
            )
        ]
    if cam.t is None or len(cam.t) != m:
        return []
    expected = align_frames(ep.t, cam.t, cam.latency_s)
    differ = np.flatnonzero(expected != tick)
    if not len(differ):
        return []
    rel = ep.rel_t
    return [
        Flag(
            "bad_alignment",
            ERROR,
            f"{where}: {len(differ)} tick(s) point at another frame than the timestamps give "
            f"(first at tick {int(differ[0])}: stored {int(tick[differ[0]])}, expected {int(expected[differ[0]])})",
            camera=cam.name,
            spans=((float(rel[differ[0]]), float(rel[differ[-1]])),),
        )
    ]


def _count_flag(where: str, array: str, have: int, want: int, unit: str, camera: str) -> Flag:
    code = "truncated" if have < want else "shape_mismatch"
    return Flag(code, ERROR, f"{where}/{array} has {have} entries for {want} {unit}", camera=camera)
