"""Intel RealSense cameras through pyrealsense2, live by serial number or played back from a recording.

Streams: colour at the configured size and rate as rgb8; with `depth: true` also z16 depth at the same
size, aligned to the colour image (`rs.align(rs.stream.color)`), so depth[y, x] is the distance at
image[y, x], in `depth_scale` metres per unit.

Times: `t_host` is the clock's time right after the pipeline hands us the frame (as for OpenCV: the
moment it is in our hands, nothing subtracted). `t_device` is the frame's own timestamp in seconds,
in the domain `info()["t_device_domain"]` names — `global_time` (the camera clock mapped onto the host
system clock by librealsense; enabled on every sensor at open) on a camera with metadata support.
Drops are gaps in the device's frame numbers.

A recording (`playback_file`, written by rs.recorder or the RealSense Viewer) plays through the same
pipeline once, in real time by default; when it ends the camera stalls, like one unplugged. Exposure
settings are not applied to a recording (its sensors are read-only).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from drivers.cameras.base import Camera
from drivers.cameras.frame import Capture
from drivers.cameras.realsense_setup import (
    configure_color_sensor,
    enable_global_time,
    find_serial,
    import_realsense,
    start_failure,
)
from robot_stack.errors import RobotStackError

log = logging.getLogger(__name__)


class RealSenseCamera(Camera):
    driver = "realsense"

    def __init__(
        self,
        name,
        spec,
        *,
        playback_file: str | Path | None = None,
        playback_real_time: bool = True,
        **options,
    ):
        super().__init__(name, spec, **options)
        self.playback_file = Path(playback_file) if playback_file is not None else None
        self.playback_real_time = playback_real_time
        self._pipeline = None
        self._align = None
        self._playback = None
        self._serial: str | None = spec.serial
        self._depth_scale: float | None = None
        self._domain: str | None = None
        self._ended = False

    def describe_source(self) -> str:
        if self.playback_file is not None:
            return f"recording {self.playback_file}"
        return f"serial {self._serial}" if self._serial else "the only connected RealSense"

    def _connect(self) -> None:
        rs = import_realsense(self.name)
        spec = self.spec
        context = rs.context()
        config = rs.config()
        if self.playback_file is not None:
            if not self.playback_file.is_file():
                raise RobotStackError(
                    f"camera '{self.name}': RealSense recording {self.playback_file} does not exist",
                    hint="give the path of a .bag/.db3 file written by rs.recorder or the RealSense Viewer",
                )
            config.enable_device_from_file(str(self.playback_file), repeat_playback=False)
        else:
            self._serial = find_serial(rs, context, self.name, spec.serial)
            config.enable_device(self._serial)
        config.enable_stream(rs.stream.color, spec.width, spec.height, rs.format.rgb8, spec.fps)
        if spec.depth:
            config.enable_stream(rs.stream.depth, spec.width, spec.height, rs.format.z16, spec.fps)
        pipeline = rs.pipeline(context)
        try:
            profile = pipeline.start(config)
        except RuntimeError as exc:
            raise start_failure(
                self.name, self.describe_source(), spec.width, spec.height, spec.fps, spec.depth, exc
            ) from exc
        try:
            self._setup_device(rs, profile.get_device())
        except BaseException:
            pipeline.stop()
            raise
        self._pipeline = pipeline
        self._align = rs.align(rs.stream.color) if spec.depth else None
        self._domain, self._ended = None, False

    def _setup_device(self, rs, device) -> None:
        if self.playback_file is not None:
            self._playback = device.as_playback()
            self._playback.set_real_time(self.playback_real_time)
            self.notes.append("playing a recording: exposure settings not applied")
        else:
            try:
                color_sensor = device.first_color_sensor()
            except RuntimeError as exc:
                raise RobotStackError(
                    f"camera '{self.name}' ({self.describe_source()}) has no colour sensor ({exc})",
                    hint="use a RealSense model with an RGB camera (D415, D435, D455, ...)",
                ) from exc
            configure_color_sensor(rs, color_sensor, self.name, self.spec.exposure)
            self.notes.extend(enable_global_time(rs, device))
        if device.supports(rs.camera_info.serial_number):
            self._serial = device.get_info(rs.camera_info.serial_number)
        if self.spec.depth:
            self._depth_scale = device.first_depth_sensor().get_depth_scale()

    def _disconnect(self) -> None:
        pipeline, self._pipeline, self._playback = self._pipeline, None, None
        if pipeline is not None:
            try:
                pipeline.stop()
            except RuntimeError as exc:  # already stopped by the library after an unplug
                log.info("camera '%s': pipeline stop: %s", self.name, exc)

    def _read(self, timeout_s: float) -> Capture | None:
        ok, frames = self._pipeline.try_wait_for_frames(max(1, int(timeout_s * 1000)))
        if not ok:
            return None
        t_host = self.clock.now()
        # a frameset the syncer let through without its depth half keeps its colour frame, depth=None
        has_depth = self._align is not None and bool(frames.get_depth_frame())
        if has_depth:
            frames = self._align.process(frames)
        color = frames.get_color_frame()
        if not color:
            return None
        # librealsense recycles frame memory once the frame is released: keep our own copy
        image = np.asanyarray(color.get_data()).copy()
        depth = np.asanyarray(frames.get_depth_frame().get_data()).copy() if has_depth else None
        if self._domain is None:
            self._domain = str(color.get_frame_timestamp_domain()).rsplit(".", 1)[-1]
        return Capture(
            image=image,
            t_host=t_host,
            t_device=color.get_timestamp() / 1000.0,
            device_sequence=int(color.get_frame_number()),
            depth=depth,
        )

    def _stall_reason(self) -> tuple[str | None, str | None]:
        playback = self._playback
        if playback is not None and str(playback.current_status()).endswith("stopped"):
            self._ended = True  # remembered: the playback handle goes away at close()
        if self._ended:
            return (
                f"the recording {self.playback_file} ended",
                "a recording holds a fixed number of frames: use a longer one or stop before it ends",
            )
        return None, None

    def _no_frame_hint(self) -> str:
        if self.playback_file is not None:
            return (
                "check the recording holds colour frames of this size and rate (open it in realsense-viewer)"
            )
        return (
            "another program (realsense-viewer, a ROS node) may be streaming from it, or the USB link is too "
            "slow: use a USB 3 port and cable, or a lower resolution/fps"
        )

    def _driver_info(self) -> dict:
        info = {
            "serial": self._serial,
            "t_device": "device timestamp, seconds",
            "t_device_domain": self._domain,
            "drops_from": "device frame numbers",
        }
        if self.playback_file is not None:
            info["playback_file"] = str(self.playback_file)
        if self.spec.depth:
            info["depth"] = "z16 aligned to colour"
            info["depth_scale_m"] = self._depth_scale
        return info
