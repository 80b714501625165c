"""One episode's partial group in `.staging/`, filled by the writer thread and sealed at the end."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr

from robot_stack.errors import RobotStackError
from robot_stack.store.align import align_frames
from robot_stack.store.files import fsync_tree
from robot_stack.store.jpeg import JpegCodec
from robot_stack.store.streams import FrameStream, TickBuffer
from robot_stack.store.summary import camera_summary, tick_summary


@dataclass(frozen=True)
class CameraLayout:
    name: str
    height: int
    width: int
    fps: float
    latency_s: float = 0.0  # subtracted from this camera's timestamps before aligning (align.py)


class EpisodeSink:
    def __init__(
        self, path: Path, attrs: dict, cameras: dict[str, CameraLayout], codec: JpegCodec, joint_names
    ):
        self.path = path
        self.control_hz = attrs["rates"]["control_hz"]
        self.cameras = cameras
        self.group = zarr.open_group(path, mode="w-", attributes={**attrs, "status": "recording"})
        self.joints = self.group.create_group("joints", attributes={"names": list(joint_names or [])})
        cams = self.group.create_group("cameras")
        self.frames = {
            name: FrameStream(
                cams.create_group(
                    name,
                    attributes={
                        **codec.attrs(),
                        "height": cam.height,
                        "width": cam.width,
                        "fps": cam.fps,
                        "latency_s": cam.latency_s,
                    },
                )
            )
            for name, cam in cameras.items()
        }
        self.ticks = TickBuffer()
        self._tick_bytes = 0

    @property
    def bytes_written(self) -> int:
        """Bytes handed to the store so far (encoded frames, then the arrays written at the end)."""
        return self._tick_bytes + sum(s.bytes_written for s in self.frames.values())

    def add_tick(self, t: float, rows: dict[str, np.ndarray]) -> None:
        self.ticks.add(t, rows)

    def add_frame(self, camera: str, t: float, t_device: float | None, jpeg: bytes) -> None:
        self.frames[camera].add(t, t_device, jpeg)

    def finish(self, final_attrs: dict, counters: dict) -> dict:
        """Write what was buffered, the alignment and the summary, flush it all to the disk; return the stats."""
        if self.ticks.t.n == 0:
            raise RobotStackError(
                f"the episode for {self.path.parent.parent} has no control ticks; there is nothing to save",
                hint="feed add_tick() from the control loop before finish(), or discard() the episode",
            )
        self._tick_bytes = self.ticks.finish(self.joints)
        tick_t = self.ticks.t.array()
        cameras = {}
        for name, stream in self.frames.items():
            cam = self.cameras[name]
            frame_t = stream.t.array()
            tick = align_frames(tick_t, frame_t, cam.latency_s)
            stream.finish(tick)
            cameras[name] = {
                **camera_summary(frame_t, cam.fps, tick_t, tick, cam.latency_s),
                "rejected": counters["rejected_frames"].get(name, 0),
            }
        stats = {
            "joints": {**tick_summary(tick_t, self.control_hz), "rejected": counters["rejected_ticks"]},
            "cameras": cameras,
            "bytes_written": self.bytes_written,
            "queue_peak_bytes": counters["queue_peak_bytes"],
        }
        self.group.attrs.update({**final_attrs, "stats": stats})
        fsync_tree(self.path)
        return stats
