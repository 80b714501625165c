"""Cameras: USB/UVC through OpenCV, Intel RealSense through pyrealsense2, and (in drivers/sim) the
simulated rig's rendered cameras — all behind one interface (`Camera`), see docs/cameras.md."""

from drivers.cameras.base import Camera
from drivers.cameras.errors import CameraStalled
from drivers.cameras.factory import make_camera, open_camera, open_cameras
from drivers.cameras.frame import CameraStats, Capture, Frame

__all__ = [
    "Camera",
    "CameraStalled",
    "CameraStats",
    "Capture",
    "Frame",
    "make_camera",
    "open_camera",
    "open_cameras",
]
