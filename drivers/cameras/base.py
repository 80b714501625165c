"""The interface every camera shares: lifecycle, capture thread, ring buffer, stall watchdog, counters.

A driver supplies three things — `_connect()` (open the device, raising a RobotStackError that names
it and says what to do), `_read(timeout_s)` (one frame as a `Capture`, or None if none came), and
`_disconnect()` — and this class runs the rest the same way for every driver:

- a capture thread calls `_read` in a loop and publishes each frame into a small ring buffer, so the
  control loop never waits on a camera: `latest()` returns the newest frame at once, and `drain()`
  hands a recorder every frame captured since its last call, at the camera's native rate;
- a watchdog notices a camera that stops delivering within `stall_periods` frame periods and reports
  it by name (`CameraStalled` from `latest()`/`check()`, the `stalled` flag, the `on_stall` callback);
  the last frame is never repeated in place of the missing ones;
- counters: frames, achieved fps, drops, stalls, frames a slow reader missed.

A driver fed from elsewhere (a simulator rendering on its physics thread) sets `threaded = False`,
leaves `_read` alone, and calls `_publish(capture)` for each frame itself. All times come from
`clock` (by default the host monotonic clock), so a lockstep clock works too.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

from drivers.cameras.counters import StreamCounter
from drivers.cameras.errors import CameraStalled
from drivers.cameras.frame import CameraStats, Capture, Frame
from drivers.cameras.ring import FrameRing
from robot_stack.clock import Clock, MonotonicClock
from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import CameraSpec

log = logging.getLogger(__name__)


class Camera(ABC):
    driver: ClassVar[str] = ""
    threaded: ClassVar[bool] = True  # False: frames arrive through _publish from another thread

    def __init__(
        self,
        name: str,
        spec: CameraSpec,
        *,
        clock: Clock | None = None,
        ring_size: int = 32,
        stall_periods: float = 3.0,
        first_frame_timeout_s: float | None = 5.0,
        on_stall: Callable[[CameraStalled], None] | None = None,
    ):
        self.name = name
        self.spec = spec
        self.clock = clock if clock is not None else MonotonicClock()
        self.period_s = 1.0 / spec.fps
        self.stall_after_s = stall_periods * self.period_s
        # None: open() does not wait for a first frame (a simulator may render only once time moves)
        self.first_frame_timeout_s = first_frame_timeout_s
        self.on_stall = on_stall
        self._ring = FrameRing(ring_size)
        self._lock = threading.Lock()
        self._new_frame = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._is_open = False
        self._reset_stream()

    # ---- what a driver implements -------------------------------------------------------------

    @abstractmethod
    def _connect(self) -> None:
        """Open the device and start it streaming; raise RobotStackError naming the device and the fix."""

    @abstractmethod
    def _disconnect(self) -> None:
        """Stop streaming and release the device. Called after the capture thread has stopped."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A threaded driver without _read would open fine and then only ever "stall": refuse it at import.
        if cls.threaded and cls._read is Camera._read:
            raise TypeError(f"{cls.__name__} is a threaded camera, so it must implement _read")

    def _read(self, timeout_s: float) -> Capture | None:
        """One frame, stamped right after it was captured; None when none arrived within about timeout_s.
        Threaded drivers implement it (checked when the class is defined); others publish instead."""
        return None

    def describe_source(self) -> str:
        """The device, serial or file this camera reads, for messages."""
        return str(self.spec.device)

    def _no_frame_hint(self) -> str:
        return "check the cable and that no other program uses the camera"

    def _driver_info(self) -> dict:
        return {}

    # ---- lifecycle ----------------------------------------------------------------------------

    def open(self) -> Camera:
        """Connect, start capturing, and (unless first_frame_timeout_s is None) wait for the first frame."""
        if self._is_open:
            return self
        self._reset_stream()
        self._connect()
        self._is_open = True
        self._opened_at = self.clock.now()
        self._stop.clear()
        if self.threaded:
            self._start_thread(self._capture_loop, "capture")
        self._start_thread(self._watch, "watchdog")
        if self.first_frame_timeout_s is not None:
            if self.wait_for_frame(timeout_s=self.first_frame_timeout_s) is None:
                failure = self._failure
                self.close()
                detail = f": {failure}" if failure else ""
                raise RobotStackError(
                    f"camera '{self.name}' ({self.describe_source()}) opened but delivered no frame "
                    f"within {self.first_frame_timeout_s:g} s{detail}",
                    hint=self._no_frame_hint(),
                )
        return self

    def close(self) -> None:
        """Stop the threads and release the device. Frames already captured can still be drained."""
        if not self._is_open:
            return
        self._stop.set()
        with self._new_frame:
            self._new_frame.notify_all()
        stuck = False
        for thread in self._threads:
            if thread is threading.current_thread():
                continue  # close() from an on_stall callback: the watchdog ends once this returns
            thread.join(timeout=self._read_timeout_s + 2.0)
            stuck = stuck or thread.is_alive()
        self._threads = []
        self._is_open = False
        if stuck:
            # releasing a device while a thread is still inside its read can crash the native library;
            # the daemon thread releases nothing, and the process exit frees the device
            log.error("camera '%s': capture thread did not stop; the device stays open", self.name)
            return
        self._disconnect()

    def __enter__(self) -> Camera:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return self._is_open

    @property
    def is_ready(self) -> bool:
        """Open, delivering, and not stalled."""
        return self._is_open and self._latest is not None and not self.stalled

    @property
    def stalled(self) -> bool:
        """True while the camera has delivered nothing for longer than the stall limit."""
        if not self._is_open:
            return False
        silent_s, limit_s = self._silence()
        return silent_s > limit_s

    # ---- frames -------------------------------------------------------------------------------

    def latest(self) -> Frame | None:
        """The newest frame, without waiting. None only before the first frame of a push camera.

        Raises CameraStalled when the camera has stopped delivering: a stale frame is not a new one.
        """
        self._require_open()
        if self.stalled:
            raise self._stall_error()
        return self._latest

    def check(self) -> None:
        """Raise CameraStalled if the camera has stopped delivering."""
        self._require_open()
        if self.stalled:
            raise self._stall_error()

    def drain(self) -> list[Frame]:
        """Every frame captured since the previous drain(), oldest first (one reader: the recorder).

        Frames the ring overwrote before they were drained show as a gap in `index` and are counted
        in `stats().reader_missed`. Works after close(), so the last frames are not lost.
        """
        with self._lock:
            frames, missed = self._ring.since(self._drained_index)
            if frames:
                self._drained_index = frames[-1].index
            self._reader_missed += missed
        return frames

    def frames_since(self, index: int) -> list[Frame]:
        """Frames newer than `index` still in the ring, for readers that keep their own place."""
        with self._lock:
            return self._ring.since(index)[0]

    def wait_for_frame(self, after_index: int = -1, timeout_s: float = 1.0) -> Frame | None:
        """Block until a frame newer than `after_index` exists (tools and tests; never the control loop)."""
        deadline = time.monotonic() + timeout_s
        with self._new_frame:
            while True:
                frame = self._latest
                if frame is not None and frame.index > after_index:
                    return frame
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set() or self._failure is not None:
                    return None
                self._new_frame.wait(remaining)

    # ---- status -------------------------------------------------------------------------------

    def stats(self) -> CameraStats:
        latest = self._latest
        with self._lock:
            frames, fps, drops = self._counter.frames, self._counter.fps, self._counter.drops
            stalls, missed = self._stalls, self._reader_missed
        since = None if latest is None else max(0.0, self.clock.now() - latest.t_host)
        return CameraStats(self.name, frames, fps, drops, stalls, self.stalled, since, missed)

    def info(self) -> dict:
        """What a recording should keep about this camera: driver, source, mode, timestamp meaning, notes."""
        return {
            "name": self.name,
            "driver": self.driver,
            "source": self.describe_source(),
            "width": self.spec.width,
            "height": self.spec.height,
            "fps": self.spec.fps,
            "t_host": "host monotonic time right after the driver received the frame",
            **self._driver_info(),
            "notes": list(self.notes),
        }

    def __repr__(self) -> str:
        state = "open" if self._is_open else "closed"
        return f"<{type(self).__name__} '{self.name}' {self.describe_source()} {state}>"

    # ---- for drivers --------------------------------------------------------------------------

    def _publish(self, capture: Capture) -> Frame:
        """Stamp a captured frame with its sequence number and drop count and make it visible."""
        capture.image.setflags(write=False)
        if capture.depth is not None:
            capture.depth.setflags(write=False)
        with self._new_frame:
            dropped = self._counter.update(capture.t_host, capture.t_device, capture.device_sequence)
            frame = Frame(
                image=capture.image,
                t_host=capture.t_host,
                t_device=capture.t_device,
                index=self._counter.frames - 1,
                dropped_before=dropped,
                depth=capture.depth,
            )
            self._ring.push(frame)
            self._latest = frame  # one reference assignment: latest() reads it without the lock
            self._new_frame.notify_all()
        return frame

    # ---- internals ----------------------------------------------------------------------------

    @property
    def _read_timeout_s(self) -> float:
        # short enough that close() and the watchdog never wait long, long enough not to spin
        return min(max(self.period_s, 0.05), 0.25)

    def _reset_stream(self) -> None:
        self.notes: list[str] = []  # settings the driver could not apply but that do not stop it
        self._ring.clear()
        self._counter = StreamCounter(self.spec.fps)
        self._latest: Frame | None = None
        self._drained_index = -1
        self._reader_missed = 0
        self._stalls = 0
        self._stall_reported = False
        self._failure: BaseException | None = None
        self._opened_at = self.clock.now()

    def _start_thread(self, target: Callable[[], None], role: str) -> None:
        thread = threading.Thread(target=target, name=f"camera-{self.name}-{role}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _capture_loop(self) -> None:
        while not self._stop.is_set():
            try:
                capture = self._read(self._read_timeout_s)
            except Exception as exc:  # the device failed mid-stream: keep why, the watchdog reports the stall
                log.error("camera '%s': capture failed: %s", self.name, exc)
                with self._new_frame:
                    self._failure = exc
                    self._new_frame.notify_all()
                return
            if capture is not None and not self._stop.is_set():
                self._publish(capture)

    def _watch(self) -> None:
        poll_s = max(0.005, self.stall_after_s / 3)
        while not self._stop.wait(poll_s):
            stalled = self.stalled
            with self._lock:
                began = stalled and not self._stall_reported
                ended = not stalled and self._stall_reported
                self._stall_reported = stalled
                if began:
                    self._stalls += 1
            if began:
                error = self._stall_error()
                log.warning("%s", error.message)
                if self.on_stall is not None:
                    try:
                        self.on_stall(error)
                    except Exception:  # a broken callback must not kill the watchdog
                        log.exception("camera '%s': on_stall callback failed", self.name)
            elif ended:
                log.info("camera '%s' delivers frames again", self.name)

    def _silence(self) -> tuple[float, float]:
        """Seconds without a frame, and the limit after which that is a stall."""
        latest = self._latest
        now = self.clock.now()
        if latest is None:
            limit = (
                self.first_frame_timeout_s if self.first_frame_timeout_s is not None else self.stall_after_s
            )
            return now - self._opened_at, limit
        return now - latest.t_host, self.stall_after_s

    def _stall_error(self) -> CameraStalled:
        silent_s, _ = self._silence()
        reason, hint = self._stall_reason()
        if self._failure is not None:
            reason = f"the driver reported: {self._failure}"
        return CameraStalled(self.name, silent_s, self._counter.frames, reason, hint)

    def _stall_reason(self) -> tuple[str | None, str | None]:
        """A driver that knows why frames stopped (a file that ended) says so here: (reason, hint)."""
        return None, None

    def _require_open(self) -> None:
        if not self._is_open:
            raise RobotStackError(
                f"camera '{self.name}' is not open", hint="call open() (or use it in a with-block) first"
            )
