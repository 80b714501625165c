"""One take: the episode writer it feeds, and what the recorder saw while it ran.

Three threads touch a take: the control loop hands it ticks, the frame pump hands it frames, the
session thread opens and closes it. Each side has its own lock, held only around a hand-off to the
writer (which never blocks), so the control loop never waits for the frame pump. A writer failure
(disk full, ...) is kept in `error` — the loop and the pump never raise it — and the session thread
acts on it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from drivers.cameras.frame import CameraStats, Frame
from robot_stack.app.record.quality import CameraFigures, TakeFigures, longest_idle_s, tick_rate
from robot_stack.errors import RobotStackError
from robot_stack.rate_loop import Overrun
from robot_stack.store import EpisodeWriter


class Take:
    def __init__(
        self,
        writer: EpisodeWriter,
        *,
        number: int,
        seed: int | None,
        t_start: float,
        duration_s: float,
        overruns_before: int,
        cameras_before: dict[str, CameraStats],
    ):
        self.writer = writer
        self.number = number  # k of N
        self.seed = seed
        self.t_start = t_start
        self.t_end: float | None = None
        self.duration_s = duration_s
        self.error: RobotStackError | None = None
        self._overruns_before = overruns_before
        self._cameras_before = cameras_before
        self._tick_lock = threading.Lock()
        self._frame_lock = threading.Lock()
        self._ticks_open = True
        self._frames_open = True
        self._t: list[float] = []
        self._leader: list[np.ndarray] = []
        self._frames_stored = dict.fromkeys(cameras_before, 0)

    # ---- the control loop's side
    def add_tick(self, sample) -> None:
        with self._tick_lock:
            if not self._ticks_open:
                return
            try:
                self.writer.add_tick(
                    sample.t,
                    sample.observation,
                    sample.action,
                    leader=sample.leader,
                    current=sample.follower_current,
                )
            except RobotStackError as exc:
                self._fail(exc)
                self._ticks_open = False
                return
            self._t.append(sample.t)
            self._leader.append(sample.leader)

    # ---- the frame pump's side
    def add_frames(self, camera: str, frames: list[Frame], earliest: float) -> None:
        """Store the frames captured in [earliest, t_end] (t_end once the take is closing)."""
        with self._frame_lock:
            if not self._frames_open:
                return
            for frame in frames:
                if frame.t_host < earliest or (self.t_end is not None and frame.t_host > self.t_end):
                    continue
                try:
                    accepted = self.writer.add_frame(camera, frame.t_host, frame.image, frame.t_device)
                except RobotStackError as exc:
                    self._fail(exc)
                    self._frames_open = False
                    return
                self._frames_stored[camera] += int(accepted)

    # ---- the session's side
    def close_ticks(self, t_end: float) -> None:
        with self._tick_lock:
            self._ticks_open = False
            self.t_end = t_end

    def close_frames(self) -> None:
        with self._frame_lock:
            self._frames_open = False

    @property
    def elapsed_ticks(self) -> int:
        return len(self._t)

    def figures(
        self,
        control_hz: float,
        overruns_now: int,
        cameras_now: dict[str, CameraStats],
        fps: dict[str, float],
        overrun_ticks: Sequence[Overrun] = (),
    ) -> TakeFigures:
        t = np.array(self._t)
        leader = np.array(self._leader) if self._leader else np.zeros((0, 0))
        rate, p99 = tick_rate(t)
        duration = (self.t_end or (t[-1] if len(t) else self.t_start)) - self.t_start
        writer = self.writer.stats()
        cameras = {}
        for name, before in self._cameras_before.items():
            now = cameras_now[name]
            cameras[name] = CameraFigures(
                frames=self._frames_stored[name],
                expected=int(round(duration * fps[name])),
                drops=now.drops - before.drops,
                missed=now.reader_missed - before.reader_missed,
                rejected=writer.rejected_frames.get(name, 0),
                stalls=now.stalls - before.stalls + int(before.stalled and now.stalled),
                stalled_at_end=now.stalled,
            )
        return TakeFigures(
            duration_s=float(duration),
            ticks=len(t),
            control_hz=control_hz,
            rate_hz=rate,
            period_p99_ms=p99,
            overruns=overruns_now - self._overruns_before,
            rejected_ticks=writer.rejected_ticks,
            idle_s=longest_idle_s(t, leader) if len(t) > 1 else 0.0,
            cameras=cameras,
            overrun_ticks=[
                {
                    "at_s": round(o.at - self.t_start, 3),
                    "body_ms": o.body_ms,
                    "wake_ms": o.wake_ms,
                    "sections_ms": o.sections,
                    "description": o.describe(since=self.t_start),
                }
                for o in overrun_ticks
                if self.t_end is None or o.at <= self.t_end
            ],
        )

    def _fail(self, exc: RobotStackError) -> None:
        if self.error is None:
            self.error = exc
