"""Deployments recorded as episodes (HG-DAgger data): one episode per start → park.

Per tick: the followers' joints (observation), the command sent to them (action) and
`intervention` (True while the operator drives with the leaders); every camera frame at its native
rate with its capture time. When the episode ends, its attrs get tags `deploy` (and `intervention`
if the operator took over at least once) and `extra.interventions`: the [first, last] tick of each
intervention segment. Writing happens on the store's writer thread: the loop only queues.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from drivers.cameras import Camera
from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import RigSpec
from robot_stack.store import Dataset
from robot_stack.store.writer import EpisodeWriter

log = logging.getLogger("deploy")


class DeployRecorder:
    def __init__(
        self,
        path: str | Path,
        rig: RigSpec,
        *,
        task: str,
        cameras: dict[str, Camera],
        joint_names: list[str],
        calibration: dict | None = None,
        extra: dict[str, Any] | None = None,
    ):
        self.path = Path(path)
        self.rig, self.task, self.cameras, self.joint_names = rig, task, cameras, joint_names
        self.calibration = calibration
        self.extra = dict(extra or {})
        self.dataset: Dataset | None = None
        self.writer: EpisodeWriter | None = None
        self._pending: list[EpisodeWriter] = []
        self.committed: list[int] = []
        self._tick = 0
        self._segments: list[list[int]] = []
        self._intervening = False

    def open(self) -> DeployRecorder:
        missing = [c for c in self.rig.cameras if c not in self.cameras]
        if missing:
            raise RobotStackError(f"recording needs every rig camera open; missing {', '.join(missing)}")
        opener = Dataset.resume if (self.path / "zarr.json").exists() else Dataset.create
        self.dataset = opener(self.path, self.rig, calibration=self.calibration)
        self.dataset.start_writer()
        return self

    @property
    def recording(self) -> bool:
        return self.writer is not None

    def begin(self, extra: dict[str, Any] | None = None) -> None:
        if self.dataset is None or self.writer is not None:
            return
        for camera in self.cameras.values():
            camera.drain()  # frames from before the episode are not part of it
        self.writer = self.dataset.begin_episode(
            self.task,
            operator="policy",
            tags=("deploy",),
            extra={**self.extra, **(extra or {})},
            joint_names=self.joint_names,
            encode_threads=1,
        )
        self._tick, self._segments, self._intervening = 0, [], False

    def tick(self, t: float, observation: np.ndarray, action: np.ndarray, intervention: bool) -> None:
        writer = self.writer
        if writer is None:
            return
        writer.add_tick(t, observation, action, intervention=bool(intervention))
        if intervention and not self._intervening:
            self._segments.append([self._tick, self._tick])
        if intervention:
            self._segments[-1][1] = self._tick
        self._intervening = intervention
        self._tick += 1
        for name, camera in self.cameras.items():
            for frame in camera.drain():
                writer.add_frame(name, frame.t_host, frame.image, frame.t_device)

    def end(self, status: str = "complete", success: bool | None = None, extra: dict | None = None) -> None:
        """Seal the episode (saved on the writer thread; `close` waits for it)."""
        writer, self.writer = self.writer, None
        if writer is None:
            return
        if self._tick == 0:
            writer.discard()
            return
        tags = ("intervention",) if self._segments else ()
        writer.finish(
            status,
            success=success,
            tags=tags,
            extra={"interventions": self._segments, "ticks": self._tick, **(extra or {})},
            wait=False,
        )
        self._pending.append(writer)

    def close(self) -> None:
        self.end("interrupted")
        for writer in self._pending:
            try:
                index = writer.wait(timeout=60)
            except (RobotStackError, TimeoutError) as exc:
                log.error("saving a deployment episode failed: %s", exc)
                continue
            if index is not None:
                self.committed.append(index)
        self._pending.clear()
        if self.dataset is not None:
            self.dataset.close()
            self.dataset = None
