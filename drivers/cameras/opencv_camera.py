"""USB/UVC cameras through OpenCV (V4L2 on Linux), and video files played back as if they were one.

Capture time: `t_host` is the clock's time right after `grab()` returns — the moment the frame is in
our hands — with nothing subtracted. With one V4L2 buffer (CAP_PROP_BUFFERSIZE=1) that is the end of
the USB transfer plus a scheduling delay, not the start of exposure; the exposure time and the
transfer are not modelled. `t_device` is the V4L2 buffer timestamp the kernel wrote (CLOCK_MONOTONIC
for uvcvideo, so on the same time line as `t_host`, taken when the first packet of the frame arrived)
and, for a file, the frame's presentation time in the file.

A file plays at the configured fps (files decode instantly, so reads are paced to absolute
deadlines), and when it ends the camera stops delivering: the watchdog reports that as a stall, as it
would a camera that was unplugged.
"""

from __future__ import annotations

import logging

import cv2

from drivers.cameras.base import Camera
from drivers.cameras.frame import Capture
from drivers.cameras.opencv_settings import check_size, configure_uvc
from drivers.cameras.opencv_source import (
    LIST_DEVICES,
    VideoSource,
    capture_backend,
    open_failure,
    resolve_source,
)

log = logging.getLogger(__name__)


class OpenCVCamera(Camera):
    driver = "opencv"

    def __init__(self, name, spec, **options):
        super().__init__(name, spec, **options)
        self._source: VideoSource | None = None
        self._cap: cv2.VideoCapture | None = None
        self._next_due: float | None = None  # file playback: when the next frame is due
        self._ended = False
        self._kernel_timestamps = False

    def describe_source(self) -> str:
        if self._source is not None:
            return self._source.path
        return str(self.spec.device)

    def _connect(self) -> None:
        source = resolve_source(self.name, self.spec.device)
        cap = cv2.VideoCapture(source.target, capture_backend(source))
        if not cap.isOpened():
            cap.release()
            raise open_failure(self.name, source)
        try:
            if not source.is_file:
                self.notes.extend(configure_uvc(cap, self.name, source.path, self.spec))
            check_size(cap, self.name, source.path, self.spec, is_file=source.is_file)
        except BaseException:
            cap.release()
            raise
        self._source, self._cap = source, cap
        self._next_due, self._ended = None, False
        self._kernel_timestamps = not source.is_file and cap.getBackendName() == "V4L2"
        if not source.is_file:
            actual_fps = cap.get(cv2.CAP_PROP_FPS)
            if actual_fps > 0 and abs(actual_fps - self.spec.fps) > 0.5:
                self.notes.append(f"camera runs at {actual_fps:g} fps, not {self.spec.fps}")

    def _disconnect(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _read(self, timeout_s: float) -> Capture | None:
        cap = self._cap
        if self._source.is_file:
            if self._ended:
                # nothing more will come; wait as a silent camera would, so the watchdog sees a stall
                self._stop.wait(timeout_s)
                return None
            self._pace()
        if not cap.grab():
            if self._source.is_file:
                self._ended = True
                log.info(
                    "camera '%s': %s ended after %d frames",
                    self.name,
                    self._source.path,
                    self._counter.frames,
                )
            else:
                self._stop.wait(min(timeout_s, self.period_s))  # a hiccup or an unplug: do not spin
            return None
        t_host = self.clock.now()
        t_device = self._device_time(cap)
        ok, bgr = cap.retrieve()
        if not ok or bgr is None:
            return None
        return Capture(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), t_host=t_host, t_device=t_device)

    def _pace(self) -> None:
        """Hold file playback to the configured rate on absolute deadlines (no drift, no bursts)."""
        now = self.clock.now()
        if self._next_due is None or now - self._next_due > self.period_s:
            self._next_due = now  # first frame, or we fell behind: restart the schedule rather than burst
        elif self._next_due > now:
            self.clock.sleep_until(self._next_due)
        self._next_due += self.period_s

    def _device_time(self, cap) -> float | None:
        if self._source.is_file:
            return cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if self._kernel_timestamps:
            msec = cap.get(cv2.CAP_PROP_POS_MSEC)
            return msec / 1000.0 if msec > 0 else None
        return None

    def _stall_reason(self) -> tuple[str | None, str | None]:
        if self._ended:
            return (
                f"the video file {self._source.path} ended",
                "a file holds a fixed number of frames: use a longer file or stop before it ends",
            )
        return None, None

    def _no_frame_hint(self) -> str:
        if self._source is not None and self._source.is_file:
            return "check that the file holds video frames (ffprobe)"
        return (
            "the camera opened but sends nothing: another program may be streaming from it, or the USB "
            "controller is out of bandwidth (keep MJPG, lower resolution/fps, or use another port); "
            + LIST_DEVICES
        )

    def _driver_info(self) -> dict:
        if self._source is not None and self._source.is_file:
            t_device = "presentation time of the frame in the video file"
        elif self._kernel_timestamps:
            t_device = "V4L2 kernel buffer timestamp (CLOCK_MONOTONIC), seconds"
        else:
            t_device = "none"
        return {"t_device": t_device, "backend": self._cap.getBackendName() if self._cap else None}
