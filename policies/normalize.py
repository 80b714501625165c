"""Per-dimension normalisation of joint states and actions, computed once from the training episodes.

The statistics travel in the checkpoint's JSON, so inference un-normalises with exactly the numbers the
network was trained with. `minmax` maps each dimension to [-1, 1] (what diffusion sampling clips to);
`meanstd` standardises (ACT's choice).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

# A joint that never moved in the data (a parked arm, an unused gripper) has zero spread; dividing by it
# would turn any deployment jitter into huge inputs, so such dimensions are only shifted, not scaled.
_MIN_SPREAD = 1e-4


@dataclass(frozen=True)
class Stats:
    min: np.ndarray
    max: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def of(cls, arrays: Iterable[np.ndarray]) -> Stats:
        data = np.concatenate([np.asarray(a, dtype=np.float64) for a in arrays], axis=0)
        if data.ndim != 2 or len(data) == 0:
            raise ValueError("statistics need a non-empty (N, D) array")
        return cls(data.min(0), data.max(0), data.mean(0), data.std(0))

    def to_json(self) -> dict:
        return {k: getattr(self, k).astype(float).tolist() for k in ("min", "max", "mean", "std")}

    @classmethod
    def from_json(cls, data: dict) -> Stats:
        return cls(*(np.asarray(data[k], dtype=np.float64) for k in ("min", "max", "mean", "std")))


class Normalizer:
    """Maps states and actions to network units and back (numpy in, torch out, and the reverse)."""

    def __init__(self, mode: Literal["minmax", "meanstd"], state: Stats, action: Stats):
        self.mode = mode
        self.state_stats = state
        self.action_stats = action
        self._state = self._affine(state)
        self._action = self._affine(action)

    def _affine(self, stats: Stats) -> tuple[np.ndarray, np.ndarray]:
        """(offset, scale) such that normalised = (x - offset) / scale."""
        if self.mode == "minmax":
            spread = stats.max - stats.min
            scale = np.where(spread > _MIN_SPREAD, spread / 2.0, 1.0)
            offset = (stats.max + stats.min) / 2.0
        else:
            scale = np.where(stats.std > _MIN_SPREAD, stats.std, 1.0)
            offset = stats.mean
        return offset.astype(np.float32), scale.astype(np.float32)

    @classmethod
    def fit(
        cls, mode: Literal["minmax", "meanstd"], states: Iterable[np.ndarray], actions: Iterable[np.ndarray]
    ) -> Normalizer:
        return cls(mode, Stats.of(states), Stats.of(actions))

    def state(self, x):
        return _apply(x, *self._state, inverse=False)

    def action(self, x):
        return _apply(x, *self._action, inverse=False)

    def unnormalize_action(self, x):
        return _apply(x, *self._action, inverse=True)

    def to_json(self) -> dict:
        return {"mode": self.mode, "state": self.state_stats.to_json(), "action": self.action_stats.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> Normalizer:
        return cls(data["mode"], Stats.from_json(data["state"]), Stats.from_json(data["action"]))


def _apply(x, offset: np.ndarray, scale: np.ndarray, inverse: bool):
    if isinstance(x, torch.Tensor):
        off = torch.as_tensor(offset, dtype=x.dtype, device=x.device)
        sc = torch.as_tensor(scale, dtype=x.dtype, device=x.device)
    else:
        x = np.asarray(x, dtype=np.float32)
        off, sc = offset, scale
    return x * sc + off if inverse else (x - off) / sc
