"""Training samples over episodes: a short observation history and the actions that follow.

Sample i of an episode is anchored at tick i (the "current" observation):
- observations at ticks i − (n_obs − 1)·stride, …, i (before the start: the first tick repeated), each
  with every camera's frame chosen by the recorded tick → frame alignment. An episode starts at its
  first tick for which every camera has a frame; earlier ticks are not used. With `trim_idle_start`
  it starts one tick before the actions first move, so the seconds an operator waits before moving
  (which the first frames cannot tell apart) do not teach the policy to hesitate;
- `horizon` actions at ticks starting with the oldest observation's, every `stride` ticks. Past the
  episode's end the last action is repeated and `action_mask` is False there.

States and actions come out normalised; images come out as resized uint8 (crop and jitter are applied
batch-wise on the training device, see `policies.images`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from policies.config import Region
from policies.episodes import Episode, check_episode
from policies.frame_cache import FrameCache
from policies.images import prepare_frame
from policies.normalize import Normalizer

# An action that has moved no further than this from its first value (rad; gripper units) is idle.
IDLE_TOLERANCE = 0.01


def idle_lead_in(actions: np.ndarray, tolerance: float = IDLE_TOLERANCE) -> int:
    """Ticks to drop from the start of `actions` (N, D): all but the last still tick before the first
    action that departs from the first one by more than `tolerance`; 0 when nothing ever moves."""
    moved = np.abs(actions - actions[0]).max(axis=1) > tolerance
    return max(0, int(np.argmax(moved)) - 1) if moved.any() else 0


class EpisodeDataset(Dataset):
    def __init__(
        self,
        episodes: Sequence[Episode],
        cameras: Sequence[str],
        image_size: tuple[int, int],
        n_obs_steps: int,
        horizon: int,
        stride: int,
        normalizer: Normalizer,
        cache_frames: bool = True,
        trim_idle_start: bool = False,
        regions: Mapping[str, Region] | None = None,
    ):
        self.episodes = list(episodes)
        self.cameras = list(cameras)
        self.image_size = tuple(image_size)
        self.regions = dict(regions or {})
        self.n_obs_steps, self.horizon, self.stride = n_obs_steps, horizon, stride
        self.normalizer = normalizer
        self.cache = FrameCache(self.image_size) if cache_frames else None
        state_dim = len(normalizer.state_stats.mean)
        action_dim = len(normalizer.action_stats.mean)
        self._obs, self._act, self._ticks, index = [], [], [], []
        for e, episode in enumerate(self.episodes):
            start = check_episode(episode, self.cameras, state_dim, action_dim)
            if trim_idle_start:
                start += idle_lead_in(np.asarray(episode.action[start:], dtype=np.float32))
            # ticks are renumbered from the first usable one
            self._obs.append(normalizer.state(np.asarray(episode.observation[start:], dtype=np.float32)))
            self._act.append(normalizer.action(np.asarray(episode.action[start:], dtype=np.float32)))
            self._ticks.append(
                {c: np.asarray(episode.frame_index(c)[start:], dtype=np.int64) for c in self.cameras}
            )
            index.append(np.stack([np.full(len(self._obs[-1]), e), np.arange(len(self._obs[-1]))], axis=1))
        self.index = np.concatenate(index, axis=0) if index else np.zeros((0, 2), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        e, tick = (int(v) for v in self.index[i])
        n = len(self._obs[e])
        first = tick - (self.n_obs_steps - 1) * self.stride
        obs_ticks = np.clip(first + np.arange(self.n_obs_steps) * self.stride, 0, n - 1)
        act_ticks = first + np.arange(self.horizon) * self.stride
        mask = act_ticks < n
        act_ticks = np.clip(act_ticks, 0, n - 1)
        images = np.stack(
            [
                np.stack([self._frame(e, camera, int(self._ticks[e][camera][t])) for camera in self.cameras])
                for t in obs_ticks
            ]
        )  # (T, N, H, W, 3)
        return {
            "images": torch.from_numpy(images).permute(0, 1, 4, 2, 3).contiguous(),
            "state": torch.from_numpy(self._obs[e][obs_ticks]),
            "action": torch.from_numpy(self._act[e][act_ticks]),
            "action_mask": torch.from_numpy(mask),
        }

    def _frame(self, e: int, camera: str, index: int) -> np.ndarray:
        episode, region = self.episodes[e], self.regions.get(camera)

        def make() -> np.ndarray:
            return prepare_frame(episode.frame(camera, index), self.image_size, region)

        if self.cache is None:
            return make()
        return self.cache.get(e, camera, index, episode.frame_count(camera), make)
