"""What a camera delivers: frames with their capture times, and the counters that describe the stream."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One image as the camera captured it. Shared between readers, so its arrays are read-only.

    `index` counts the frames this camera delivered since `open()` (0, 1, 2, ...): a gap between the
    indices a reader sees means the reader fell behind the ring buffer. `dropped_before` counts
    frames the device or driver lost between the previous frame and this one.
    """

    image: np.ndarray  # (height, width, 3) uint8, RGB order
    t_host: float  # host monotonic time (the camera's clock) at which the frame was captured, seconds
    t_device: float | None  # the device's own timestamp, seconds; its time line is in Camera.info()
    index: int
    dropped_before: int
    depth: np.ndarray | None = None  # (height, width) uint16 depth units, aligned to `image` (RealSense)


@dataclass(frozen=True, slots=True)
class Capture:
    """What a driver hands to the camera base class for each frame it reads.

    `device_sequence` is the device's own frame counter where it has one (RealSense frame numbers);
    drops are then counted from its gaps, otherwise from timestamp gaps.
    """

    image: np.ndarray
    t_host: float
    t_device: float | None = None
    device_sequence: int | None = None
    depth: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class CameraStats:
    name: str
    frames: int  # frames delivered since open()
    fps: float  # achieved rate over the last couple of seconds (0 until two frames arrived)
    drops: int  # frames lost before they reached us (device sequence gaps or timestamp gaps)
    stalls: int  # times the camera stopped delivering for longer than the stall limit
    stalled: bool  # stopped delivering right now
    seconds_since_frame: float | None  # None before the first frame
    reader_missed: int  # frames overwritten in the ring before drain() collected them
