"""Episodes from the zarr episode store (`robot_stack.store`) through the policies' Episode protocol.

Joint arrays are small and read into memory at once; frames stay in the store and are decoded when the
dataset view first asks for them (and then cached, resized, if `data.cache_frames` is on).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from policies.episodes import EpisodeSet
from robot_stack.errors import RobotStackError
from robot_stack.store import Dataset
from robot_stack.store import Episode as StoredEpisode


class StoreEpisode:
    def __init__(self, episode: StoredEpisode):
        self.name = f"{episode.index:06d}"
        self.index = episode.index
        self.task = episode.attrs.get("task")
        self.observation = np.asarray(episode.observation[:], dtype=np.float32)
        self.action = np.asarray(episode.action[:], dtype=np.float32)
        self.cameras = episode.cameras
        self._streams = {name: episode.camera(name) for name in self.cameras}
        self._ticks = {name: np.asarray(stream.tick[:]) for name, stream in self._streams.items()}

    def frame_index(self, camera: str) -> np.ndarray:
        return self._ticks[camera]

    def frame_count(self, camera: str) -> int:
        return len(self._streams[camera].frames)

    def frame(self, camera: str, index: int) -> np.ndarray:
        return self._streams[camera].frames[index]


def open_store(
    path: str | Path, episodes: Iterable[int] | None = None, statuses: tuple[str, ...] = ("complete",)
) -> EpisodeSet:
    """The episodes of a dataset (all, or the given indices) whose status is one of `statuses`."""
    dataset = Dataset.open(path)
    rig = dataset.rig
    wanted = list(episodes) if episodes is not None else dataset.indices()
    chosen = []
    for index in wanted:
        stored = dataset.episode(index)
        if episodes is None and stored.attrs.get("status", "complete") not in statuses:
            continue  # an explicitly named episode is used whatever its status
        chosen.append(StoreEpisode(stored))
    if not chosen:
        raise RobotStackError(
            f"{path} has no episode to train on (statuses accepted: {', '.join(statuses)})",
            hint="record episodes with `robot-stack record`, or name the episodes to use",
        )
    return EpisodeSet.from_rig(rig, chosen)
