"""AdamW with a separate backbone learning rate, and a warm-up + cosine (or constant) schedule.

The schedule is a pure function of the step, so resuming needs only the step count, not scheduler state.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from policies.config import TrainConfig


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """Four groups: backbone / rest × decayed / not (biases and norm scales are not weight-decayed)."""
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        key = (name.startswith("backbones."), param.ndim > 1)
        groups.setdefault(key, []).append(param)
    backbone_lr = cfg.backbone_lr if cfg.backbone_lr is not None else cfg.lr
    param_groups = [
        {
            "params": params,
            "base_lr": backbone_lr if is_backbone else cfg.lr,
            "weight_decay": cfg.weight_decay if decayed else 0.0,
        }
        for (is_backbone, decayed), params in sorted(groups.items())
    ]
    return torch.optim.AdamW(param_groups, lr=cfg.lr, betas=tuple(cfg.betas))


def lr_factor(step: int, cfg: TrainConfig) -> float:
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return 1.0
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return 0.5 * (1 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, step: int, cfg: TrainConfig) -> float:
    factor = lr_factor(step, cfg)
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
    return cfg.lr * factor
