"""The recording session: the episode state machine that runs beside the teleop loop.

    starting (ramp-in) → reset → recording → reset → recording → … → done

- **reset**: teleop continues, nothing is written; a new scene (sim: re-randomised, new seed). Ends
  after `reset_s`, or at once on `next`.
- **recording**: a take — every tick and frame goes to an episode writer. Ends after the episode
  length (save), or on a key: `next` saves it, `re-record` drops it and does the same scene again,
  `discard` drops it and moves on to a new scene, `stop` drops it and ends the session.
- In the reset phase `re-record` / `discard` remove the episode just saved and record it again.
- **done** after N saved episodes, on `stop`, on Ctrl-C, or when the loop stops on a fault; saves
  still in flight are waited for. A failed save (disk full, ...) ends the session with its error.

The session runs on its own thread; `on_tick` is the teleop loop's hook (control-loop thread). Saves
happen in the background (`finish(wait=False)`) while the next reset phase goes on.
"""

from __future__ import annotations

import getpass
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from robot_stack.app.record.frames import FramePump
from robot_stack.app.record.keys import DISCARD, NEXT, RERECORD, STOP
from robot_stack.app.record.quality import TakeFigures, quality_flags
from robot_stack.app.record.take import Take
from robot_stack.app.teleop.loop import Event, TeleopLoop
from robot_stack.errors import RobotStackError
from robot_stack.store import Dataset, EpisodeWriter

DEFAULT_EPISODE_S = 60.0
FRAME_GRACE_S = 0.06  # frames stamped before a take's end may still be on their way to the ring
STEP_S = 0.02


@dataclass
class RecordOptions:
    task: str
    episodes: int = 1
    episode_s: float | None = None  # None: the scene's suggestion (scripted operator), else DEFAULT_EPISODE_S
    reset_s: float = 5.0
    operator: str = ""  # stored in each episode's attrs
    tags: tuple[str, ...] = ()
    first_seed: int | None = None  # sim: the first scene's seed (each new scene takes the next)
    jpeg_quality: int | None = None


@dataclass
class EpisodeSummary:
    number: int  # k in "episode k of N"
    seed: int | None
    figures: TakeFigures
    flags: list[str]
    index: int | None = None  # in the dataset, once committed
    bytes_written: int = 0
    removed: bool = False
    writer: EpisodeWriter | None = field(default=None, repr=False)

    def line(self) -> str:
        f = self.figures
        frames = ", ".join(f"{n} {c.frames}/{c.expected}" for n, c in f.cameras.items())
        success = "" if f.success is None else f", success {'yes' if f.success else 'NO'}"
        seed = "" if self.seed is None else f", seed {self.seed}"
        where = f"episode {self.index:06d}" if self.index is not None else "episode (saving)"
        return (
            f"{where} [{self.number}]: {f.duration_s:.1f} s, {f.ticks} ticks at {f.rate_hz:.1f} Hz"
            + (f", frames {frames}" if frames else "")
            + f", {self.bytes_written / 1e6:.1f} MB{seed}{success} — "
            + ("flags: " + "; ".join(self.flags) if self.flags else "ok")
        )


class RecordSession:
    def __init__(
        self,
        dataset: Dataset,
        loop: TeleopLoop,
        pump: FramePump,
        scene,
        options: RecordOptions,
        *,
        keys=None,
        on_summary=None,
        camera_latency_s: dict[str, float] | None = None,
        episode_extra: dict | None = None,
    ):
        self.dataset = dataset
        self.loop = loop
        self.pump = pump
        self.scene = scene
        self.options = options
        self.keys = keys
        self.on_summary = on_summary  # called with each EpisodeSummary once it is committed
        self.camera_latency_s = camera_latency_s or {}
        self.episode_extra = episode_extra or {}
        self.clock = loop.clock
        self.rig = loop.rig
        self.cameras = pump.cameras
        self.joint_names = self.rig.follower_joint_names()
        self.operator_name = options.operator or _user()
        self.phase = "starting"
        self.phase_until: float | None = None
        self.take: Take | None = None
        self.saved = 0  # episodes saved (or being saved) in this session
        self.summaries: list[EpisodeSummary] = []  # committed, in order
        self.pending: list[EpisodeSummary] = []  # finishing in the background
        self.events: deque[Event] = deque(maxlen=50)
        self.error: BaseException | None = None
        self.seed = options.first_seed
        self._seed_used = False

    # ---- hooks for the other threads
    def on_tick(self, sample) -> None:
        take = self.take
        if take is not None:
            take.add_tick(sample)

    def on_stall(self, error: RobotStackError) -> None:
        self.event("warning", error.message)

    def event(self, level: str, text: str) -> None:
        self.events.append(Event(time.monotonic(), level, text))

    @property
    def time_left_s(self) -> float | None:
        return None if self.phase_until is None else max(0.0, self.phase_until - self.clock.now())

    # ---- the session thread
    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set() and self.phase != "done":
                self._step()
                stop.wait(STEP_S)
        except BaseException as exc:  # noqa: BLE001 — handed to the caller by the workflow
            self.error = exc
        finally:
            try:
                if self.take is not None:
                    self._end_take(save=False, why="stopped")
                self._collect(wait=True)
            except BaseException as exc:  # noqa: BLE001
                self.error = self.error or exc
            self.phase = "done"
            self.phase_until = None
            stop.set()  # the loop parks

    def _step(self) -> None:
        self._collect()
        if self.take is not None and self.take.error is not None:
            raise self.take.error
        if self.loop.status.fault is not None or (self.phase != "starting" and not self.loop.status.running):
            self.phase = "done"  # the loop stopped (its fault is raised by the loop itself)
            return
        for command in self.keys.poll() if self.keys is not None else []:
            self._command(command)
            if self.phase == "done":
                return
        now = self.clock.now()
        if self.phase == "starting":
            if self.loop.status.phase == "teleop":
                self._enter_reset(new_scene=True)
        elif self.phase == "reset" and now >= self.phase_until:
            self._start_take()
        elif self.phase == "recording" and now >= self.phase_until:
            self._end_take(save=True)
            self._after_save()

    def _command(self, command: str) -> None:
        if command == STOP:
            self.event("info", "stop requested")
            self.phase = "done"
        elif command == NEXT:
            if self.phase == "reset":
                self._start_take()
            elif self.phase == "recording":
                self._end_take(save=True)
                self._after_save()
        elif command in (RERECORD, DISCARD):
            same_scene = command == RERECORD
            if self.phase == "recording":
                self._end_take(save=False, why=command)
                self._enter_reset(new_scene=not same_scene)
            elif self.phase == "reset":
                last = self._remove_last_saved(command)
                if last is not None:
                    if same_scene:
                        self.seed = last.seed
                    self._enter_reset(new_scene=not same_scene)

    # ---- phases
    def _enter_reset(self, new_scene: bool) -> None:
        if self.scene.sim and (new_scene or self.seed is None):
            self._next_seed()
        self.scene.new_scene(self.seed if self.scene.sim else None)
        self.phase = "reset"
        self.phase_until = self.clock.now() + self.options.reset_s
        self.event("info", f"reset phase ({self.options.reset_s:g} s)" + self._seed_text())

    def _next_seed(self) -> None:
        if self.seed is None:
            self.seed = 0
        elif self._seed_used:
            self.seed += 1
        self._seed_used = True

    def _start_take(self) -> None:
        suggested = self.scene.start_take(self.seed if self.scene.sim else None)
        duration = self.options.episode_s or suggested or DEFAULT_EPISODE_S
        extra = {
            **self.episode_extra,
            "episode_seconds": round(duration, 3),
            "scene": "sim" if self.scene.sim else "hand",
            "scripted_operator": bool(self.scene.scripted),
        }
        noise = self.loop.noise
        if noise is not None:
            noise.envelope = self.scene.steady_spans()
            if noise.envelope is not None:
                extra["noise"] = {**extra.get("noise", {}), **noise.envelope.describe()}
        kwargs = {"jpeg_quality": self.options.jpeg_quality} if self.options.jpeg_quality else {}
        writer = self.dataset.begin_episode(
            self.options.task,
            operator=self.operator_name,
            tags=self.options.tags,
            seed=self.seed if self.scene.sim else None,
            extra=extra,
            joint_names=self.joint_names,
            camera_latency_s=self.camera_latency_s,
            **kwargs,
        )
        take = Take(
            writer,
            number=self.saved + 1,
            seed=self.seed if self.scene.sim else None,
            t_start=self.clock.now(),
            duration_s=duration,
            overruns_before=self.loop.loop.overruns,  # a counter: stats() sorts every ring
            cameras_before={n: c.stats() for n, c in self.cameras.items()},
        )
        self.pump.attach(take)
        self.take = take  # ticks from here on
        self.phase = "recording"
        self.phase_until = take.t_start + duration
        self.event("info", f"recording episode {take.number} of {self.options.episodes} ({duration:.1f} s)")

    def _end_take(self, save: bool, why: str = "") -> None:
        take = self.take
        take.close_ticks(self.clock.now())
        self.take = None
        if self.loop.noise is not None:
            self.loop.noise.envelope = None  # the take's spans mean nothing in the reset that follows
        time.sleep(FRAME_GRACE_S)
        self.pump.detach()
        if take.error is not None:
            take.writer.discard()
            raise take.error
        if not save:
            take.writer.discard()
            self.event("warning", f"take {take.number} dropped ({why}); nothing of it was written")
            self.phase_until = None
            return
        figures = take.figures(
            self.rig.control_rate_hz,
            self.loop.loop.overruns,
            {n: c.stats() for n, c in self.cameras.items()},
            {n: float(c.spec.fps) for n, c in self.cameras.items()},
            self.loop.loop.overruns_since(take.t_start),
        )
        figures.success = self.scene.outcome()
        flags = quality_flags(figures)
        take.writer.finish(
            success=figures.success,
            extra={"quality_flags": flags, "recorder": figures.to_dict()},
            wait=False,
        )
        self.saved += 1
        self.pending.append(EpisodeSummary(take.number, take.seed, figures, flags, writer=take.writer))

    def _after_save(self) -> None:
        if self.saved >= self.options.episodes:
            self.phase = "done"
        else:
            self._enter_reset(new_scene=True)

    def _collect(self, wait: bool = False) -> None:
        """Report the saves that have finished; raise the first that failed."""
        for summary in list(self.pending):
            writer = summary.writer
            if not (wait or writer.done):
                continue
            self.pending.remove(summary)
            try:
                summary.index = writer.wait()
            except RobotStackError:
                self.saved -= 1
                raise
            summary.bytes_written = writer.stats().bytes_written
            summary.writer = None
            self.summaries.append(summary)
            self.event("info", f"episode {summary.index:06d} saved")
            if self.on_summary is not None:
                self.on_summary(summary)

    def _remove_last_saved(self, why: str) -> EpisodeSummary | None:
        self._collect(wait=True)
        kept = [s for s in self.summaries if not s.removed]
        if not kept:
            self.event("warning", f"nothing to {why}: no episode saved in this session yet")
            return None
        last = kept[-1]
        self.dataset.remove_episode(last.index)
        last.removed = True
        self.saved -= 1
        self.event("warning", f"episode {last.index:06d} removed ({why}); recording it again")
        return last

    def _seed_text(self) -> str:
        return f", scene seed {self.seed}" if self.scene.sim and self.seed is not None else ""


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
