"""Reading one committed episode: zarr arrays, opened lazily, plus decoded frames by index."""

from __future__ import annotations

import numpy as np
import zarr

from robot_stack.errors import RobotStackError
from robot_stack.store.align import frame_age
from robot_stack.store.jpeg import decode_jpeg


class Frames:
    """One camera's frames as a read-only sequence of (H, W, 3) uint8 RGB images, decoded on access."""

    def __init__(self, group: zarr.Group):
        self._jpeg = group["jpeg"]
        self._offsets = group["jpeg_offsets"][:]  # (M+1,) small; read once
        self.shape = (len(self._offsets) - 1, int(group.attrs["height"]), int(group.attrs["width"]), 3)

    def __len__(self) -> int:
        return self.shape[0]

    def jpeg(self, i: int) -> bytes:
        """The stored JPEG file of frame i, undecoded."""
        start, end = self._span(i)
        return self._jpeg[start:end].tobytes()

    def __getitem__(self, key):
        """frames[i] → (H, W, 3); frames[a:b] or frames[[i, j, …]] → (k, H, W, 3)."""
        if isinstance(key, slice) or np.ndim(key) == 1:
            indices = range(*key.indices(len(self))) if isinstance(key, slice) else key
            out = np.empty((len(indices), *self.shape[1:]), np.uint8)
            for n, i in enumerate(indices):
                out[n] = self[i]
            return out
        start, end = self._span(key)
        return decode_jpeg(self._jpeg[start:end])

    def _span(self, i) -> tuple[int, int]:
        i = int(i)
        if not -len(self) <= i < len(self):
            raise IndexError(f"frame {i} out of range for {len(self)} frames")
        i %= len(self)
        return int(self._offsets[i]), int(self._offsets[i + 1])


class CameraStream:
    def __init__(self, name: str, group: zarr.Group):
        self.name = name
        self.group = group
        self.attrs = group.attrs.asdict()
        self.frames = Frames(group)
        self.t = group["t"]  # (M,) float64 host capture time
        self.t_device = group["t_device"] if "t_device" in group else None  # (M,) where the camera stamps
        self.tick = group["tick"]  # (N,) int32 frame index per control tick, -1 before the first frame

    @property
    def latency_s(self) -> float:
        return float(self.attrs.get("latency_s", 0.0))

    def frame_age(self, tick_t) -> np.ndarray:
        """(N,) seconds from each tick back to its frame's capture; NaN where it has none."""
        return frame_age(tick_t, self.t[:], self.tick[:], self.latency_s)


class Episode:
    def __init__(self, index: int, group: zarr.Group):
        self.index = index
        self.group = group
        self.attrs = group.attrs.asdict()
        joints = group["joints"]
        self.joint_names: list[str] = list(joints.attrs.get("names", []))
        self.t = joints["t"]  # (N,) float64 control-tick capture time
        self.observation = joints["observation"]  # (N, J) float32
        self.action = joints["action"]  # (N, J) float32
        self.extras = {
            name: arr for name, arr in joints.arrays() if name not in ("t", "observation", "action")
        }
        self._cameras_group = group["cameras"]

    @property
    def tags(self) -> list[str]:
        return list(self.attrs.get("tags", []))

    @property
    def cameras(self) -> list[str]:
        return sorted(name for name, _ in self._cameras_group.groups())

    def camera(self, name: str) -> CameraStream:
        if name not in self._cameras_group:
            raise RobotStackError(
                f"episode {self.index} has no camera '{name}'",
                hint=f"cameras: {', '.join(self.cameras) or '(none)'}",
            )
        return CameraStream(name, self._cameras_group[name])

    def __len__(self) -> int:
        return self.t.shape[0]
