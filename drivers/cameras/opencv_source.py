"""Where an OpenCV camera reads from (a V4L2 device or a video file), and why it would not open."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from robot_stack.errors import RobotStackError

LIST_DEVICES = "list cameras with `v4l2-ctl --list-devices` (package v4l-utils) or `ls -l /dev/v4l/by-id/`"


@dataclass(frozen=True)
class VideoSource:
    kind: str  # "device" or "file"
    target: int | str  # what cv2.VideoCapture is given
    path: str  # the /dev/video* node or file path, for messages and checks

    @property
    def is_file(self) -> bool:
        return self.kind == "file"


def resolve_source(name: str, device: str | int | None) -> VideoSource:
    """Turn the `device` field of a camera into a device index, device node or video file."""
    if device is None:
        raise RobotStackError(
            f"camera '{name}' (opencv) has no device",
            hint=f"set device: to /dev/videoN, an index, or a /dev/v4l/by-id/ path; {LIST_DEVICES}",
        )
    if isinstance(device, int) or (isinstance(device, str) and device.strip().isdigit()):
        index = int(device)
        return VideoSource("device", index, f"/dev/video{index}")
    text = str(device)
    if text.startswith("/dev/"):
        # by-id and by-path links name the same camera across reboots; open the node they point to
        return VideoSource("device", os.path.realpath(text) if os.path.exists(text) else text, text)
    path = Path(text).expanduser()
    if not path.is_file():
        raise RobotStackError(
            f"camera '{name}': device '{text}' is neither a /dev/video* device nor an existing video file",
            hint=f"fix device: in the rig file; {LIST_DEVICES}",
        )
    return VideoSource("file", str(path), str(path))


def open_failure(name: str, source: VideoSource) -> RobotStackError:
    """The most likely reason a device or file did not open, and what to do about it."""
    where = f"camera '{name}'"
    if source.is_file:
        return RobotStackError(
            f"{where}: OpenCV could not decode the video file {source.path}",
            hint="use a file OpenCV can read (e.g. MJPG in .avi); check it plays with ffprobe",
        )
    node = source.target if isinstance(source.target, str) else source.path
    if not os.path.exists(node):
        return RobotStackError(
            f"{where}: video device {source.path} does not exist (is the camera plugged in?)",
            hint=f"{LIST_DEVICES}; then fix the index or path in the rig file (indices can change "
            "between boots: /dev/v4l/by-id/ paths do not)",
        )
    if not os.access(node, os.R_OK | os.W_OK):
        return RobotStackError(
            f"{where}: permission denied on {source.path}",
            hint="add yourself to the video group: `sudo usermod -aG video $USER`, then log out and in",
        )
    return RobotStackError(
        f"{where}: {source.path} exists but could not be opened for capture",
        hint="another program may hold it (`fuser -v " + node + "`); a UVC camera also creates a "
        "metadata node that cannot stream, so try the neighbouring /dev/videoN (" + LIST_DEVICES + "); "
        "several cameras on one USB controller can run out of bandwidth: keep MJPG, lower the "
        "resolution or fps, or move a camera to another USB port/controller",
    )


def capture_backend(source: VideoSource) -> int:
    """V4L2 for devices on Linux (exposes buffer size, exposure and kernel timestamps); any for files."""
    import cv2

    if source.is_file or not sys.platform.startswith("linux"):
        return cv2.CAP_ANY
    return cv2.CAP_V4L2
