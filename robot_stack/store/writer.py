"""EpisodeWriter: the control loop hands ticks and frames over and moves on; a thread encodes them and
the dataset's writer process (sink_server.py) writes them to disk.

    with dataset.begin_episode(task="transfer_cube", operator="ana") as episode:
        while recording:
            episode.add_tick(t, observation, action, intervention=False)   # from the loop thread
            episode.add_frame("cam_high", t_cam, rgb)                        # from any thread
    # leaving the block finishes (commits) the episode; an exception in it discards the episode

`add_tick` / `add_frame` never block: they copy the (small) per-tick rows, queue the item and
return True, or return False when the hand-off queue is over its byte budget — counted, logged once,
and stored in the episode's stats. Once the writer has failed (disk full, ...), every call raises
the failure as a RobotStackError, so the recorder learns at its next tick, not at the end.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robot_stack.errors import RobotStackError
from robot_stack.store.encoder import OrderedEncoder
from robot_stack.store.files import remove_tree, write_failed_error
from robot_stack.store.handoff import ByteBoundedQueue
from robot_stack.store.jpeg import JpegCodec
from robot_stack.store.layout import TICK_ARRAYS
from robot_stack.store.sink import CameraLayout
from robot_stack.store.sink_process import RemoteSink, SinkProcess

log = logging.getLogger("robot_stack.store")

_TICK, _FRAME, _FINISH, _DISCARD, _CHECK = "tick", "frame", "finish", "discard", "check"


@dataclass(frozen=True)
class WriterStats:
    state: str  # recording, finishing, committed, discarded, failed
    ticks: int  # accepted by add_tick
    frames: dict[str, int]  # accepted by add_frame, per camera
    rejected_ticks: int  # refused because the queue was full
    rejected_frames: dict[str, int]
    queue_items: int
    queue_bytes: int
    queue_peak_bytes: int
    queue_limit_bytes: int
    bytes_written: int  # handed to the store: encoded frames so far, then the per-tick arrays
    elapsed_s: float
    write_mb_s: float  # bytes_written / elapsed_s
    busy_fraction: float  # share of elapsed time the writer thread was working, not waiting
    index: int | None = None  # the episode's index once committed


class EpisodeWriter:
    """Made by Dataset.begin_episode(); see the module docstring for the contract."""

    def __init__(
        self,
        *,
        dataset_path: Path,
        sinks: SinkProcess,
        partial: Path,
        commit: Callable[[Path], int],
        attrs: dict,
        cameras: dict[str, CameraLayout],
        joint_names: list[str] | None,
        codec: JpegCodec,
        max_queue_bytes: int,
        encode_threads: int,
    ):
        self.dataset_path = dataset_path
        self._sinks = sinks
        self.partial = partial
        self._commit = commit
        self._attrs = attrs
        self._cameras = cameras
        self._joint_names = joint_names
        self._codec = codec
        self._queue = ByteBoundedQueue(max_queue_bytes)
        self._encode_threads = encode_threads
        self._tick_layout: dict[str, tuple] | None = None
        self._ticks = 0
        self._frames = dict.fromkeys(cameras, 0)
        self._rejected_ticks = 0
        self._rejected_frames = dict.fromkeys(cameras, 0)
        self._closing = False
        self._state = "recording"
        self._error: RobotStackError | None = None
        self._index: int | None = None
        self._sink: RemoteSink | None = None
        self._busy_s = 0.0
        self._started = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="episode-writer", daemon=True)
        self._thread.start()

    # ---- the loop's side: never blocks

    def add_tick(self, t: float, observation, action, **extras) -> bool:
        """Queue one control tick (capture time `t`, host monotonic seconds). False if the queue was full."""
        self._check_accepting()
        t = _finite_time(t, "tick")
        rows = {"observation": np.array(observation, np.float32), "action": np.array(action, np.float32)}
        for name, value in extras.items():
            rows[name] = np.array(value)
        self._check_tick_layout(rows)
        if self._queue.offer((_TICK, t, rows), 64 + sum(r.nbytes for r in rows.values())):
            self._ticks += 1
            return True
        self._rejected_ticks += 1
        self._report_full("tick")
        return False

    def add_frame(self, camera: str, t: float, frame: np.ndarray, t_device: float | None = None) -> bool:
        """Queue one (H, W, 3) uint8 RGB frame captured at host time `t`. False if the queue was full.

        The writer keeps `frame` until it is encoded: pass a copy if your driver reuses its buffer.
        """
        self._check_accepting()
        cam = self._cameras.get(camera)
        if cam is None:
            raise RobotStackError(
                f"camera '{camera}' is not in the rig this dataset was recorded with",
                hint=f"use one of: {', '.join(self._cameras) or '(the rig has no cameras)'}",
            )
        if getattr(frame, "shape", None) != (cam.height, cam.width, 3) or frame.dtype != np.uint8:
            raise RobotStackError(
                f"camera '{camera}' gave a frame of shape {getattr(frame, 'shape', None)} "
                f"{getattr(frame, 'dtype', type(frame).__name__)}; the rig says ({cam.height}, {cam.width}, 3) uint8",
                hint="fix the camera's width/height in the rig file, or convert frames to RGB uint8",
            )
        t = _finite_time(t, f"camera '{camera}' frame")
        t_device = None if t_device is None else _finite_time(t_device, f"camera '{camera}' device")
        if self._queue.offer((_FRAME, (camera, t, t_device), frame), frame.nbytes):
            self._frames[camera] += 1
            return True
        self._rejected_frames[camera] += 1
        self._report_full(f"frame from '{camera}'")
        return False

    # ---- ending the episode

    def finish(
        self,
        status: str = "complete",
        *,
        success: bool | None = None,
        tags=(),
        extra: dict | None = None,
        wait: bool = True,
    ) -> int | None:
        """Seal the episode: write what is left, flush to disk, make it visible under its index.

        With wait=False this returns at once (the loop keeps running while the episode is saved);
        call wait() later for the index. `tags` and `extra` add to those given at begin_episode.
        """
        self._check_accepting()
        self._closing = True
        final = {
            "status": status,
            "success": success,
            "end_time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "tags": sorted({*self._attrs["tags"], *tags}),
            "extra": {**self._attrs["extra"], **(extra or {})},
        }
        self._state = "finishing"
        self._queue.put_control((_FINISH, final))
        return self.wait() if wait else None

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the writer is done; the committed episode's index (None if discarded)."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"the episode writer for {self.dataset_path} is still busy after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._index

    def discard(self) -> None:
        """Drop the episode in progress; nothing of it stays on disk. A no-op once it failed or was dropped."""
        if self._state in ("finishing", "committed"):
            raise RobotStackError(
                f"finish() was already called for this episode of {self.dataset_path}; discard() cannot undo that",
                hint="wait() for its index, then remove it with Dataset.remove_episode()",
            )
        if not self._done.is_set():
            self._closing = True
            self._queue.put_control((_DISCARD, None))
            self._done.wait()

    def stats(self) -> WriterStats:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        written = self._sink.bytes_written if self._sink is not None else 0
        return WriterStats(
            state=self._state,
            ticks=self._ticks,
            frames=dict(self._frames),
            rejected_ticks=self._rejected_ticks,
            rejected_frames=dict(self._rejected_frames),
            queue_items=self._queue.depth,
            queue_bytes=self._queue.bytes,
            queue_peak_bytes=self._queue.peak_bytes,
            queue_limit_bytes=self._queue.max_bytes,
            bytes_written=written,
            elapsed_s=elapsed,
            write_mb_s=written / elapsed / 1e6,
            busy_fraction=min(self._busy_s / elapsed, 1.0),
            index=self._index,
        )

    @property
    def done(self) -> bool:
        """True once the episode is committed, discarded or failed."""
        return self._done.is_set()

    @property
    def error(self) -> RobotStackError | None:
        return self._error

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()
        elif not self._closing:
            self.finish()
        else:
            self.wait()

    # ---- checks on the loop's side (cheap: a few comparisons per call)

    def _check_accepting(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closing:
            raise RobotStackError(
                "this episode was already finished or discarded",
                hint="begin a new episode with begin_episode()",
            )

    def _check_tick_layout(self, rows: dict[str, np.ndarray]) -> None:
        layout = {name: (r.shape, r.dtype) for name, r in rows.items()}
        if self._tick_layout is None:
            bad = [n for n in list(rows)[2:] if n in TICK_ARRAYS or not n.isidentifier()]
            if bad:
                raise RobotStackError(
                    f"per-tick extra named {bad[0]!r} is not allowed", hint="pick another name"
                )
            odd = [n for n, r in rows.items() if r.dtype.kind not in "biuf"]
            if odd:
                raise RobotStackError(
                    f"per-tick {odd[0]!r} holds {rows[odd[0]].dtype} values; only numbers and booleans are stored",
                    hint="pass numeric arrays (or bools) for every per-tick value",
                )
            for name in ("observation", "action"):
                if rows[name].ndim != 1:
                    raise RobotStackError(
                        f"{name} must be one row of joint values, got shape {rows[name].shape}"
                    )
            names = self._joint_names
            if names and len(names) != len(rows["observation"]):
                raise RobotStackError(
                    f"observation has {len(rows['observation'])} values but {len(names)} joint names were given",
                    hint="pass joint_names in the order of the observation vector",
                )
            self._tick_layout = layout
        elif layout != self._tick_layout:
            raise RobotStackError(
                f"tick {self._ticks} differs from the first tick: {_describe(layout)} vs {_describe(self._tick_layout)}",
                hint="give every tick the same arrays (same extras, same shapes and types)",
            )

    def _report_full(self, what: str) -> None:
        if self._rejected_ticks + sum(self._rejected_frames.values()) == 1:
            log.warning(
                "episode writer for %s: queue full (%d bytes); a %s was not recorded. "
                "Rejections are counted in the episode's stats.",
                self.dataset_path, self._queue.max_bytes, what,
            )  # fmt: skip

    # ---- the writer thread

    def _run(self) -> None:
        encoder = OrderedEncoder(self._codec.encode, self._encode_threads)
        try:
            sink = self._sink = self._sinks.open(
                self.dataset_path,
                self.partial,
                self._attrs,
                self._cameras,
                self._codec,
                self._joint_names,
                on_error=self._wake,
            )
            while True:
                item = self._queue.get()
                busy_from = time.monotonic()
                kind = item[0]
                if kind == _TICK:
                    sink.add_tick(item[1], item[2])
                elif kind == _FRAME:
                    encoder.submit(item[1], item[2])
                    for (camera, t, t_device), data in encoder.ready():
                        sink.add_frame(camera, t, t_device, data)
                elif kind == _FINISH:
                    for (camera, t, t_device), data in encoder.ready(wait_all=True):
                        sink.add_frame(camera, t, t_device, data)
                    sink.finish(item[1], self._counters())
                    self._index = self._commit(self.partial)
                    self._state = "committed"
                    return
                elif kind == _CHECK:
                    sink.check()
                else:
                    sink.discard()
                    remove_tree(self.partial)
                    self._state = "discarded"
                    return
                self._busy_s += time.monotonic() - busy_from
        except BaseException as exc:  # noqa: BLE001 — every failure must reach the caller, not die with the thread
            self._fail(exc)
        finally:
            encoder.close()
            self._done.set()

    def _fail(self, exc: BaseException) -> None:
        # the message reads free space before the partial episode is deleted and gives it back
        error = exc if isinstance(exc, RobotStackError) else write_failed_error(self.dataset_path, exc)
        if self._sink is not None:
            self._sink.discard()  # a no-op when the writer process reported the failure itself
        remove_tree(self.partial)
        self._queue.clear()
        if error is not exc:
            error.__cause__ = exc
        self._error = error
        self._state = "failed"
        log.error("episode writer for %s failed: %s", self.dataset_path, error.message)

    def _wake(self) -> None:
        """The writer process reported a failure: get the writer thread out of its wait to raise it."""
        self._queue.put_control((_CHECK, None))

    def _counters(self) -> dict:
        return {
            "rejected_ticks": self._rejected_ticks,
            "rejected_frames": dict(self._rejected_frames),
            "queue_peak_bytes": self._queue.peak_bytes,
        }


def _finite_time(t, what: str) -> float:
    value = float(t)
    if not math.isfinite(value):
        raise RobotStackError(
            f"{what} timestamp is {value}", hint="stamp every sample with the clock's now()"
        )
    return value


def _describe(layout: dict) -> str:
    return ", ".join(f"{n} {s} {d}" for n, (s, d) in layout.items())
