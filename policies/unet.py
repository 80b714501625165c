"""A 1-D temporal U-Net over an action sequence, conditioned by FiLM (Perez et al. 2018) on the noise
level and the observation features — the network of Diffusion Policy's CNN variant (Chi et al. 2023).

Convolving along time (rather than attending) gives smooth action sequences; FiLM lets the observation
scale and shift every residual block's channels instead of being concatenated once at the input.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class TimeEmbedding(nn.Module):
    """Scalar noise level / flow time → vector: sinusoidal features then a small MLP."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 4), nn.Mish(), nn.Linear(dim * 4, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freq = torch.exp(
            torch.arange(half, device=t.device, dtype=torch.float32) * (-math.log(10000.0) / (half - 1))
        )
        angles = t.float()[:, None] * freq[None]
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=-1))


class ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, groups: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.GroupNorm(groups, c_out), nn.Mish()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class FiLMResBlock(nn.Module):
    """Two conv blocks; between them the condition sets a per-channel scale and bias."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, kernel: int, groups: int):
        super().__init__()
        self.conv1 = ConvBlock(c_in, c_out, kernel, groups)
        self.conv2 = ConvBlock(c_out, c_out, kernel, groups)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * c_out))
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, bias = self.film(cond)[..., None].chunk(2, dim=1)
        y = self.conv1(x) * (1 + scale) + bias  # 1 + scale: starts as the identity modulation
        return self.conv2(y) + self.skip(x)


class ConditionalUnet1D(nn.Module):
    """(B, T, A) noisy actions + (B,) time + (B, cond) features → (B, T, A)."""

    def __init__(
        self,
        action_dim: int,
        cond_dim: int,
        down_dims: tuple[int, ...],
        kernel: int,
        groups: int,
        time_dim: int,
    ):
        super().__init__()
        self.time = TimeEmbedding(time_dim)
        cond = time_dim + cond_dim
        widths = [action_dim, *down_dims]
        self.down = nn.ModuleList()
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            last = i == len(down_dims) - 1
            self.down.append(
                nn.ModuleList(
                    [
                        FiLMResBlock(c_in, c_out, cond, kernel, groups),
                        FiLMResBlock(c_out, c_out, cond, kernel, groups),
                        nn.Identity() if last else nn.Conv1d(c_out, c_out, 3, 2, 1),
                    ]
                )
            )
        mid = down_dims[-1]
        self.mid = nn.ModuleList([FiLMResBlock(mid, mid, cond, kernel, groups) for _ in range(2)])
        # As Chi et al.'s reference: each up level joins its skip at the lower resolution (the deepest
        # skip first), narrows, then upsamples the narrower result; the full-resolution skip is unused.
        self.up = nn.ModuleList()
        for c_out, c_in in reversed(list(zip(down_dims[:-1], down_dims[1:], strict=True))):
            self.up.append(
                nn.ModuleList(
                    [
                        FiLMResBlock(2 * c_in, c_out, cond, kernel, groups),
                        FiLMResBlock(c_out, c_out, cond, kernel, groups),
                        nn.ConvTranspose1d(c_out, c_out, 4, 2, 1),
                    ]
                )
            )
        self.head = nn.Sequential(
            ConvBlock(down_dims[0], down_dims[0], kernel, groups), nn.Conv1d(down_dims[0], action_dim, 1)
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        cond = torch.cat([self.time(t), features], dim=-1)
        x = x.transpose(1, 2)  # convolve along time: (B, A, T)
        skips = []
        for block1, block2, downsample in self.down:
            x = block2(block1(x, cond), cond)
            skips.append(x)
            x = downsample(x)
        for block in self.mid:
            x = block(x, cond)
        for block1, block2, upsample in self.up:
            x = block2(block1(torch.cat([x, skips.pop()], dim=1), cond), cond)
            x = upsample(x)
        return self.head(x).transpose(1, 2)
