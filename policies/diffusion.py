"""Diffusion Policy, CNN variant (Chi et al. 2023), and its flow-matching sibling: same network, two
generative objectives.

Observation encoder: per camera a ResNet-18 (GroupNorm) and spatial softmax; their keypoints and the
normalised joint state of each of the `n_obs_steps` latest observations are concatenated into one
conditioning vector. A conditional 1-D U-Net generates a `horizon`-long normalised action sequence that
starts at the oldest observation; the `n_action_steps` actions from the current tick on are the chunk.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from policies.backbone import CameraBackbones, ResNet18, SpatialSoftmax
from policies.config import BackboneConfig, DiffusionConfig
from policies.ddpm import DDPM
from policies.flow import FlowMatching
from policies.guidance import Guidance, soft_mask
from policies.spec import PolicySpec
from policies.unet import ConditionalUnet1D


class DiffusionModel(nn.Module):
    def __init__(
        self,
        cfg: DiffusionConfig,
        backbone: BackboneConfig,
        spec: PolicySpec,
        objective: Literal["diffusion", "flow"],
    ):
        super().__init__()
        self.cfg = cfg
        self.objective = objective
        self.action_dim = spec.action_dim
        cameras = len(spec.cameras)
        self.backbones = CameraBackbones(
            cameras, backbone.width, backbone.norm, backbone.share, backbone.stages, backbone.coords
        )
        feature_size = ResNet18.feature_size(spec.crop_size, backbone.stages)
        # keypoints are per camera even with a shared backbone: each view has its own points of interest
        self.pools = nn.ModuleList(
            SpatialSoftmax(self.backbones.out_channels, cfg.keypoints, feature_size) for _ in range(cameras)
        )
        obs_dim = cameras * 2 * cfg.keypoints + spec.state_dim
        self.net = ConditionalUnet1D(
            spec.action_dim,
            obs_dim * cfg.n_obs_steps,
            tuple(cfg.down_dims),
            cfg.kernel_size,
            cfg.n_groups,
            cfg.step_embed_dim,
        )
        self.process = (
            DDPM(cfg.train_steps, cfg.clip_sample)
            if objective == "diffusion"
            else FlowMatching(cfg.clip_sample)
        )

    def encode(self, images: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """images (B, T, N, 3, H, W) in [0, 1], state (B, T, J) → conditioning (B, T·obs_dim)."""
        b, t = state.shape[:2]
        features = self.backbones(images.flatten(0, 1))  # (B·T, N, C, h, w)
        keypoints = [pool(features[:, i]) for i, pool in enumerate(self.pools)]
        per_step = torch.cat([*keypoints, state.flatten(0, 1)], dim=-1)
        return per_step.unflatten(0, (b, t)).flatten(1)

    def forward(
        self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        # Padded steps past an episode's end repeat its last action ("hold still"), which is a valid target:
        # the sampler must produce every step of the horizon, so every step is trained.
        cond = self.encode(batch["images"], batch["state"])
        actions = batch["action"]
        noisy, t, target = self.process.training_pair(actions, generator)
        loss = F.mse_loss(self.net(noisy, t, cond), target)
        return loss, {"mse": float(loss.detach())}

    @torch.no_grad()
    def predict_chunk(
        self,
        images: torch.Tensor,
        state: torch.Tensor,
        prefix: torch.Tensor | None = None,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        previous: torch.Tensor | None = None,
        max_guidance: float = 5.0,
    ) -> torch.Tensor:
        """Normalised actions (B, n_action_steps, A) from the current tick on.

        `prefix` (B, d, A): actions already committed for the current tick onwards; sampling keeps them and
        inpaints the rest so the new chunk continues them smoothly.
        `previous` (B, p, A), p ≥ d: the previous plan from the current tick on (its first d rows are the
        prefix); sampling is guided toward it with real-time chunking's soft weights (policies.guidance),
        capped at `max_guidance`. Guided sampling needs gradients: call it outside torch.inference_mode.
        """
        cond = self.encode(images, state)
        b, start = state.shape[0], self.cfg.n_obs_steps - 1
        shape = (b, self.cfg.horizon, self.action_dim)
        known = mask = None
        if prefix is not None and prefix.shape[1] > 0:
            d = prefix.shape[1]
            if start + d > self.cfg.horizon:
                raise ValueError(f"a prefix of {d} actions does not fit the horizon of {self.cfg.horizon}")
            known = torch.zeros(shape, device=cond.device, dtype=cond.dtype)
            known[:, start : start + d] = prefix
            mask = torch.zeros((1, self.cfg.horizon, 1), dtype=torch.bool, device=cond.device)
            mask[:, start : start + d] = True
        guide = None
        if previous is not None and previous.shape[1] > 0:
            p, d = previous.shape[1], 0 if prefix is None else prefix.shape[1]
            if start + p > self.cfg.horizon or p < d:
                raise ValueError(
                    f"a previous plan of {p} actions must cover the prefix ({d}) and fit the horizon"
                )
            target = torch.zeros(shape, device=cond.device, dtype=cond.dtype)
            target[:, start : start + p] = previous
            weights = soft_mask(self.cfg.horizon, start, d, p).to(device=cond.device, dtype=cond.dtype)
            guide = Guidance(target, weights, max_guidance)
        if self.objective == "diffusion":
            n = steps or self.cfg.inference_steps
        else:
            n = steps or self.cfg.flow_steps
        sequence = self.process.sample(
            lambda x, t: self.net(x, t, cond), shape, n, cond.device, generator, known, mask, guide
        )
        return sequence[:, start : start + self.cfg.n_action_steps]
