"""The frame pump: a thread (never the control loop's) that moves frames from the cameras to a take.

Every few milliseconds it drains each camera's ring (every frame since the last drain, in order) and
hands the frames of the open take to its writer, which queues them without blocking. Between takes
the frames are drained and dropped, so a take starts with fresh ones; the newest frame from before
the take is kept if it is less than one frame period old, so the first control tick has a picture.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from drivers.cameras.base import Camera
from drivers.cameras.frame import Frame
from robot_stack.app.record.take import Take

PUMP_INTERVAL_S = 0.01


class FramePump:
    def __init__(
        self,
        cameras: Mapping[str, Camera],
        *,
        interval_s: float = PUMP_INTERVAL_S,
        tap: Callable[[str, list[Frame]], None] | None = None,
    ):
        self.cameras = dict(cameras)
        self.interval_s = interval_s
        self.tap = tap  # sees every frame (benchmarks keep raw frames to compare with stored ones)
        self.frames_moved = dict.fromkeys(self.cameras, 0)
        self._take: Take | None = None
        self._last: dict[str, Frame | None] = dict.fromkeys(self.cameras)
        self._period = {name: 1.0 / cam.spec.fps for name, cam in self.cameras.items()}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> FramePump:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="frame-pump", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FramePump:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def attach(self, take: Take) -> None:
        """Frames captured from the take's start on (and the newest one before it, if fresh) go to `take`."""
        with self._lock:
            for name, camera in self.cameras.items():
                frames = camera.drain()
                if self.tap is not None and frames:
                    self.tap(name, frames)
                before = [f for f in [self._last[name], *frames] if f is not None and f.t_host < take.t_start]
                if before:
                    take.add_frames(name, before[-1:], take.t_start - self._period[name])
                take.add_frames(name, frames, take.t_start)
                if frames:
                    self._last[name] = frames[-1]
            self._take = take

    def detach(self) -> None:
        """Hand over what the cameras captured up to the take's end time, then stop feeding it."""
        with self._lock:
            self._pump_once()
            if self._take is not None:
                self._take.close_frames()
            self._take = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            with self._lock:
                self._pump_once()

    def _pump_once(self) -> None:
        take = self._take
        for name, camera in self.cameras.items():
            frames = camera.drain()
            if not frames:
                continue
            if self.tap is not None:
                self.tap(name, frames)
            self._last[name] = frames[-1]
            if take is not None:
                take.add_frames(name, frames, take.t_start)
                self.frames_moved[name] += len(frames)
