"""Reading one episode for an audit: every small array into memory, every failure kept as a finding.

The store's own reader (robot_stack.store.Episode) assumes an intact episode; an audit must not. Here
each array is opened and read on its own, and whatever cannot be read becomes an `unreadable` flag
naming the array, instead of ending the audit. The frames' JPEG byte stream is not read here (it is
most of the data); frames_scan.py streams it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zarr

from robot_stack.app.audit.model import ERROR, Flag

# array → (dtype, number of dimensions) the layout promises (docs/episode_store.md)
EXPECTED = {
    "joints/t": ("float64", 1),
    "joints/observation": ("float32", 2),
    "joints/action": ("float32", 2),
    "t": ("float64", 1),
    "t_device": ("float64", 1),
    "tick": ("int32", 1),
    "jpeg_offsets": ("uint64", 1),
    "jpeg": ("uint8", 1),
}


@dataclass
class CameraData:
    name: str
    attrs: dict
    t: np.ndarray | None = None
    t_device: np.ndarray | None = None
    tick: np.ndarray | None = None
    offsets: np.ndarray | None = None
    jpeg: zarr.Array | None = None  # opened, not read

    @property
    def fps(self) -> float:
        return float(self.attrs.get("fps") or 0.0)

    @property
    def latency_s(self) -> float:
        return float(self.attrs.get("latency_s") or 0.0)

    @property
    def frames(self) -> int:
        return 0 if self.offsets is None else max(len(self.offsets) - 1, 0)


@dataclass
class EpisodeData:
    index: int
    path: Path
    attrs: dict = field(default_factory=dict)
    joint_names: list[str] = field(default_factory=list)
    t: np.ndarray | None = None
    observation: np.ndarray | None = None
    action: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    cameras: dict[str, CameraData] = field(default_factory=dict)
    problems: list[Flag] = field(default_factory=list)  # unreadable or mistyped arrays

    @property
    def joints_ok(self) -> bool:
        """t, observation and action were read, with one row per tick each."""
        if self.t is None or self.observation is None or self.action is None:
            return False
        n = len(self.t)
        return self.observation.shape[0] == n and self.action.shape[0] == n and n > 0

    @property
    def rel_t(self) -> np.ndarray:
        return self.t - self.t[0] if self.t is not None and len(self.t) else np.zeros(0)


def load_episode(index: int, path: Path) -> EpisodeData:
    ep = EpisodeData(index, path)
    try:
        group = zarr.open_group(path, mode="r")
        ep.attrs = group.attrs.asdict()
    except Exception as exc:  # noqa: BLE001 — a damaged episode is a finding, not a crash
        ep.problems.append(_unreadable(path.name, "the episode group", exc))
        return ep
    joints = _child(ep, group, "joints")
    if joints is not None:
        ep.joint_names = [str(n) for n in joints.attrs.get("names", [])]
        ep.t = _read(ep, joints, "t", "joints/t")
        ep.observation = _read(ep, joints, "observation", "joints/observation")
        ep.action = _read(ep, joints, "action", "joints/action")
        for name in sorted(_member_names(ep, joints, "arrays")):
            if name not in ("t", "observation", "action"):
                value = _read(ep, joints, name, f"joints/{name}")
                if value is not None:
                    ep.extras[name] = value
    cameras = _child(ep, group, "cameras")
    if cameras is not None:
        for name in sorted(_member_names(ep, cameras, "groups")):
            ep.cameras[name] = _load_camera(ep, cameras, name)
    return ep


def _load_camera(ep: EpisodeData, cameras: zarr.Group, name: str) -> CameraData:
    try:
        group = cameras[name]
        cam = CameraData(name, group.attrs.asdict())
    except Exception as exc:  # noqa: BLE001
        ep.problems.append(_unreadable(ep.path.name, f"camera {name}", exc, camera=name))
        return CameraData(name, {})
    where = f"cameras/{name}"
    cam.t = _read(ep, group, "t", f"{where}/t", camera=name)
    cam.tick = _read(ep, group, "tick", f"{where}/tick", camera=name)
    cam.offsets = _read(ep, group, "jpeg_offsets", f"{where}/jpeg_offsets", camera=name)
    if "t_device" in _member_names(ep, group, "arrays"):
        cam.t_device = _read(ep, group, "t_device", f"{where}/t_device", camera=name)
    try:
        cam.jpeg = group["jpeg"]
        _check_dtype(ep, cam.jpeg, "jpeg", f"{where}/jpeg", name)
    except Exception as exc:  # noqa: BLE001
        ep.problems.append(_unreadable(ep.path.name, f"{where}/jpeg", exc, camera=name))
    return cam


def _child(ep: EpisodeData, group: zarr.Group, name: str) -> zarr.Group | None:
    try:
        return group[name]
    except Exception as exc:  # noqa: BLE001
        ep.problems.append(_unreadable(ep.path.name, name, exc))
        return None


def _member_names(ep: EpisodeData, group: zarr.Group, kind: str) -> list[str]:
    try:
        return [n for n, _ in getattr(group, kind)()]
    except Exception as exc:  # noqa: BLE001
        ep.problems.append(_unreadable(ep.path.name, f"the list of {group.path}", exc))
        return []


def _read(ep: EpisodeData, group: zarr.Group, name: str, where: str, camera: str | None = None):
    try:
        arr = group[name]
        if not _check_dtype(ep, arr, name if where.startswith("cameras") else where, where, camera):
            return None
        return arr[...]
    except Exception as exc:  # noqa: BLE001
        ep.problems.append(_unreadable(ep.path.name, where, exc, camera=camera))
        return None


def _check_dtype(ep: EpisodeData, arr: zarr.Array, key: str, where: str, camera: str | None) -> bool:
    expected = EXPECTED.get(key)
    if expected is None:
        return True
    dtype, ndim = expected
    if str(arr.dtype) != dtype or arr.ndim != ndim:
        ep.problems.append(
            Flag(
                "bad_dtype",
                ERROR,
                f"{where} is {arr.dtype} with {arr.ndim} dimension(s); the layout says {dtype}, {ndim}-D",
                camera=camera,
            )
        )
        return False
    return True


def _unreadable(episode: str, what: str, exc: Exception, camera: str | None = None) -> Flag:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return Flag("unreadable", ERROR, f"{what} cannot be read: {text[:200]}", camera=camera)
