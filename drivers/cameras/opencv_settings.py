"""Put a UVC camera (through OpenCV's V4L2 backend) into the mode the rig file asks for.

The V4L2 backend passes control values through unchanged (unless OPENCV_VIDEOIO_V4L_RANGE_NORMALIZED
is set): CAP_PROP_AUTO_EXPOSURE is V4L2's exposure_auto menu (1 = manual, 3 = aperture priority), and
CAP_PROP_EXPOSURE is exposure_time_absolute in units of 100 µs.
"""

from __future__ import annotations

import cv2

from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import CameraSpec

V4L2_EXPOSURE_MANUAL = 1
V4L2_EXPOSURE_APERTURE_PRIORITY = 3
EXPOSURE_UNIT_US = 100


def configure_uvc(cap, name: str, node: str, spec: CameraSpec) -> list[str]:
    """Set format, size, rate, buffering, exposure and white balance; returns notes on what did not take.

    A setting the rig file asks to lock (exposure, gain, white balance) that the camera refuses is an
    error: silently running on auto would change the images under a policy trained on locked ones.
    """
    notes: list[str] = []

    def want(prop: int, value: float, what: str) -> bool:
        ok = bool(cap.set(prop, value))
        if not ok:
            notes.append(f"camera did not accept {what}")
        return ok

    def require(prop: int, value: float, what: str) -> None:
        if not cap.set(prop, value):
            raise RobotStackError(
                f"camera '{name}' ({node}) refused {what}",
                hint=f"see which controls and ranges it has with `v4l2-ctl -d {node} --list-ctrls`, "
                "then fix or remove that exposure field in the rig file",
            )

    # the format first: changing it resets the size, and MJPG is what lets several cameras share USB 2
    want(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"), "the MJPG format")
    want(cv2.CAP_PROP_FRAME_WIDTH, spec.width, f"width {spec.width}")
    want(cv2.CAP_PROP_FRAME_HEIGHT, spec.height, f"height {spec.height}")
    want(cv2.CAP_PROP_FPS, spec.fps, f"{spec.fps} fps")
    # one buffer: grab() returns the frame just captured, not one that waited in a queue
    want(cv2.CAP_PROP_BUFFERSIZE, 1, "a buffer size of 1")

    exposure = spec.exposure
    if exposure.auto:
        want(cv2.CAP_PROP_AUTO_EXPOSURE, V4L2_EXPOSURE_APERTURE_PRIORITY, "auto exposure")
    else:
        require(cv2.CAP_PROP_AUTO_EXPOSURE, V4L2_EXPOSURE_MANUAL, "manual exposure")
        if exposure.exposure_us is not None:
            units = max(1, round(exposure.exposure_us / EXPOSURE_UNIT_US))
            require(cv2.CAP_PROP_EXPOSURE, units, f"an exposure of {exposure.exposure_us} µs")
        if exposure.gain is not None:
            require(cv2.CAP_PROP_GAIN, exposure.gain, f"gain {exposure.gain}")
    if exposure.white_balance_k is not None:
        require(cv2.CAP_PROP_AUTO_WB, 0, "manual white balance")
        require(
            cv2.CAP_PROP_WB_TEMPERATURE,
            exposure.white_balance_k,
            f"{exposure.white_balance_k} K white balance",
        )
    else:
        want(cv2.CAP_PROP_AUTO_WB, 1, "auto white balance")
    return notes


def check_size(cap, name: str, where: str, spec: CameraSpec, *, is_file: bool) -> None:
    """A camera that silently picked another size would break every episode's fixed image shape."""
    width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if (width, height) == (spec.width, spec.height):
        return
    if is_file:
        hint = (
            f"set width: {width} and height: {height} for this camera, or use a file of the configured size"
        )
    else:
        hint = (
            f"pick a size the camera offers (`v4l2-ctl -d {where} --list-formats-ext`) and set width/height"
        )
    raise RobotStackError(
        f"camera '{name}' ({where}) delivers {width}x{height}, not the {spec.width}x{spec.height} "
        "in the rig file",
        hint=hint,
    )
