"""A recorded episode as functions of time: the goals that were sent and the poses that resulted.

Replay asks for both at arbitrary tick times (its ticks do not fall where the recording's did), so
each joint is interpolated linearly between the two recorded ticks around that time; before the
first tick and after the last, the ends hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import RigSpec
from robot_stack.store.episode import Episode


@dataclass(frozen=True)
class RecordedTrajectory:
    t: np.ndarray  # (N,) seconds since the first tick
    action: np.ndarray  # (N, J) goals sent to the followers
    observation: np.ndarray  # (N, J) followers' measured joints
    columns: dict[str, slice]  # follower → its joints' columns

    @classmethod
    def from_episode(cls, episode: Episode, rig: RigSpec) -> RecordedTrajectory:
        expected = rig.follower_joint_names()
        if episode.joint_names != expected:
            raise RobotStackError(
                f"episode {episode.index} was recorded with joints {_short(episode.joint_names)}; "
                f"this rig's followers have {_short(expected)}",
                hint="replay on the rig the dataset was recorded with (see `robot-stack dataset info`)",
            )
        t = np.asarray(episode.t[:], np.float64)
        if len(t) < 2:
            raise RobotStackError(f"episode {episode.index} has {len(t)} tick(s): nothing to replay")
        if not np.all(np.diff(t) > 0):
            raise RobotStackError(
                f"episode {episode.index} has timestamps that do not increase",
                hint="`robot-stack audit` shows where; such an episode cannot be replayed at its timing",
            )
        action = np.asarray(episode.action[:], np.float64)
        observation = np.asarray(episode.observation[:], np.float64)
        for name, values in (("action", action), ("observation", observation)):
            if not np.isfinite(values).all():
                raise RobotStackError(f"episode {episode.index} has non-finite {name} values")
        columns, start = {}, 0
        for pair in rig.pairs:
            n = len(rig.arms[pair.follower].joint_names)
            columns[pair.follower] = slice(start, start + n)
            start += n
        return cls(t - t[0], action, observation, columns)

    @property
    def duration_s(self) -> float:
        return float(self.t[-1])

    def at(self, tau: float) -> tuple[np.ndarray, np.ndarray]:
        """(goal, observation) at `tau` seconds into the episode, every joint."""
        k = int(np.clip(np.searchsorted(self.t, tau, side="right") - 1, 0, len(self.t) - 2))
        w = float(np.clip((tau - self.t[k]) / (self.t[k + 1] - self.t[k]), 0.0, 1.0))
        return (
            (1 - w) * self.action[k] + w * self.action[k + 1],
            (1 - w) * self.observation[k] + w * self.observation[k + 1],
        )


def _short(names: list[str]) -> str:
    return f"[{', '.join(names[:3])}{', …' if len(names) > 3 else ''}] ({len(names)})"
