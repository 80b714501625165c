"""The small protocol the dataset view reads episodes through, and an in-memory implementation.

An episode is N control ticks of joint observations and actions plus, per camera, M frames and the
tick → frame alignment the recorder computed (`frame_index`). Anything that offers this — the zarr
episode store, synthetic test data — can be trained on. An episode may also say what it demonstrates
(`task`, the recorder's task text); checkpoints keep those texts, so an evaluation can check them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from robot_stack.errors import RobotStackError
from robot_stack.rig import RigSpec


@runtime_checkable
class Episode(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def observation(self) -> np.ndarray:
        """(N, J) float32 follower joint positions, one row per control tick."""

    @property
    def action(self) -> np.ndarray:
        """(N, A) float32 commands sent at each tick."""

    @property
    def cameras(self) -> Sequence[str]: ...

    def frame_index(self, camera: str) -> np.ndarray:
        """(N,) integer index of the frame of `camera` that goes with each tick."""

    def frame_count(self, camera: str) -> int: ...

    def frame(self, camera: str, index: int) -> np.ndarray:
        """Frame `index` of `camera` as (H, W, 3) uint8 RGB."""


@dataclass
class MemoryEpisode:
    """An episode held in numpy arrays (synthetic data, tests, small imports)."""

    name: str
    observation: np.ndarray
    action: np.ndarray
    frames: dict[str, np.ndarray]  # camera → (M, H, W, 3) uint8
    ticks: dict[str, np.ndarray]  # camera → (N,) frame index per tick
    task: str | None = None

    @property
    def cameras(self) -> list[str]:
        return list(self.frames)

    def frame_index(self, camera: str) -> np.ndarray:
        return self.ticks[camera]

    def frame_count(self, camera: str) -> int:
        return len(self.frames[camera])

    def frame(self, camera: str, index: int) -> np.ndarray:
        return self.frames[camera][index]


@dataclass
class EpisodeSet:
    """Episodes recorded on one rig, and the layout of their state/action vectors."""

    episodes: Sequence[Episode]
    arms: dict[str, list[str]]  # follower arm → joint names, in state order
    control_rate_hz: float
    cameras: list[str] = field(
        default_factory=list
    )  # cameras every episode has; empty: from the first episode

    def __post_init__(self) -> None:
        if not self.episodes:
            raise RobotStackError("the dataset has no episodes", hint="record some with `robot-stack record`")
        if not self.cameras:
            self.cameras = list(self.episodes[0].cameras)

    def tasks(self) -> list[str]:
        """The task texts the episodes were recorded with (episodes without one say nothing)."""
        return sorted({task for e in self.episodes if (task := getattr(e, "task", None))})

    @classmethod
    def from_rig(cls, rig: RigSpec, episodes: Sequence[Episode]) -> EpisodeSet:
        arms = {name: arm.joint_names for name, arm in rig.arms_with_role("follower").items()}
        return cls(
            episodes=episodes, arms=arms, control_rate_hz=rig.control_rate_hz, cameras=list(rig.cameras)
        )


def check_episode(episode: Episode, cameras: Sequence[str], state_dim: int, action_dim: int) -> int:
    """Refuse an episode the view cannot read, naming the episode and what is wrong with it.

    Returns the first usable tick: the recorder marks ticks before a camera's first frame with -1, and
    those ticks are left out rather than paired with a frame captured after them.
    """
    obs, act = np.asarray(episode.observation), np.asarray(episode.action)
    where = f"episode '{episode.name}'"
    hint = "audit the dataset (`robot-stack audit`) and drop or re-record this episode"
    if obs.ndim != 2 or obs.shape[1] != state_dim:
        raise RobotStackError(
            f"{where}: observation has shape {obs.shape}, expected (N, {state_dim})", hint=hint
        )
    if act.shape != (len(obs), action_dim):
        raise RobotStackError(
            f"{where}: action has shape {act.shape}, expected ({len(obs)}, {action_dim})", hint=hint
        )
    if not (np.isfinite(obs).all() and np.isfinite(act).all()):
        raise RobotStackError(f"{where}: observation or action contains NaN or inf", hint=hint)
    start = 0
    for camera in cameras:
        if camera not in episode.cameras:
            raise RobotStackError(
                f"{where} has no camera '{camera}' (it has: {', '.join(episode.cameras)})",
                hint="choose cameras every episode has with --set data.cameras=[...]",
            )
        index = np.asarray(episode.frame_index(camera))
        count = episode.frame_count(camera)
        if index.shape != (len(obs),):
            raise RobotStackError(
                f"{where}: camera '{camera}' aligns {index.shape} ticks, the episode has {len(obs)}",
                hint=hint,
            )
        missing = np.flatnonzero(index < 0)
        first = int(missing[-1]) + 1 if len(missing) else 0
        if len(missing) and (len(missing) != first or index.min() < -1):
            raise RobotStackError(
                f"{where}: camera '{camera}' has ticks without a frame after its first frame", hint=hint
            )
        if index.max(initial=-1) >= count:
            raise RobotStackError(
                f"{where}: camera '{camera}' aligns ticks to frames up to {index.max()}, but it has {count} frames",
                hint=hint,
            )
        start = max(start, first)
    if start >= len(obs):
        raise RobotStackError(
            f"{where} has no tick at which every camera has a frame ({', '.join(cameras)})", hint=hint
        )
    return start
