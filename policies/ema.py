"""Exponential moving average of a model's weights, the copy Diffusion Policy evaluates and deploys.

The decay warms up as 1 − (1 + step)^−power (capped at max_decay): early on the average follows the
fast-changing weights closely, later it smooths over many steps.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, power: float = 0.75, max_decay: float = 0.9999):
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.power = power
        self.max_decay = max_decay
        self.updates = 0

    def decay(self) -> float:
        return min(self.max_decay, max(0.0, 1.0 - (1.0 + self.updates) ** -self.power))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        decay = self.decay()
        for avg, live in zip(self.module.parameters(), model.parameters(), strict=True):
            avg.lerp_(live.detach(), 1.0 - decay)
        for avg, live in zip(self.module.buffers(), model.buffers(), strict=True):
            avg.copy_(live)  # norm statistics and fixed tables are copied, not averaged
        self.updates += 1

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
