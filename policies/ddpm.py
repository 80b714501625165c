"""DDPM training (Ho et al. 2020) with the cosine noise schedule (Nichol & Dhariwal 2021), and
deterministic DDIM sampling (Song et al. 2021) with any number of steps.

The network predicts the noise ε. Sampling may hold part of the sequence fixed (`known`, `known_mask`):
at every step the known part is replaced by itself noised to the current level, so the free part is
generated to agree with it — inpainting used for real-time chunking. `guide` (policies.guidance) adds
RTC's soft, gradient-guided pull toward a previous plan on top.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from policies.guidance import Guidance, guided_epsilon

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t) → predicted ε


def cosine_alpha_bars(steps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """ᾱ_t for t = 0..steps-1: the fraction of signal variance left after t+1 noising steps."""

    def f(t: float) -> float:
        return math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2

    betas = torch.tensor([min(1 - f(i + 1) / f(i), max_beta) for i in range(steps)], dtype=torch.float64)
    return torch.cumprod(1 - betas, dim=0).float()


class DDPM:
    def __init__(self, train_steps: int, clip_sample: float | None):
        self.train_steps = train_steps
        self.clip_sample = clip_sample
        self.alpha_bars = cosine_alpha_bars(train_steps)

    def training_pair(self, clean: torch.Tensor, generator: torch.Generator | None = None):
        """(noisy, t, noise): a random noise level per sample and the ε the network must recover."""
        b = clean.shape[0]
        t = torch.randint(0, self.train_steps, (b,), device=clean.device, generator=generator)
        noise = torch.randn(clean.shape, device=clean.device, generator=generator)
        return self.add_noise(clean, noise, t), t, noise

    def add_noise(self, clean: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = self.alpha_bars.to(clean.device)[t].view(-1, *([1] * (clean.dim() - 1)))
        return ab.sqrt() * clean + (1 - ab).sqrt() * noise

    def timesteps(self, steps: int) -> list[int]:
        """`steps` descending noise levels starting at the noisiest one ("trailing" spacing): sampling
        starts from pure noise, which is what the first level was trained on."""
        steps = max(1, min(steps, self.train_steps))
        stride = self.train_steps / steps
        return sorted({self.train_steps - 1 - round(i * stride) for i in range(steps)}, reverse=True)

    @torch.no_grad()
    def sample(
        self,
        denoise: Denoiser,
        shape: tuple[int, ...],
        steps: int,
        device: torch.device,
        generator: torch.Generator | None = None,
        known: torch.Tensor | None = None,
        known_mask: torch.Tensor | None = None,
        guide: Guidance | None = None,
    ) -> torch.Tensor:
        alpha_bars = self.alpha_bars.to(device)
        x = torch.randn(shape, device=device, generator=generator)
        levels = self.timesteps(steps)
        for i, t in enumerate(levels):
            if known is not None:
                x = torch.where(known_mask, self._noised(known, alpha_bars[t], generator), x)
            ab = alpha_bars[t]
            ab_prev = alpha_bars[levels[i + 1]] if i + 1 < len(levels) else torch.ones((), device=device)
            level = torch.full((shape[0],), t, device=device, dtype=torch.long)
            eps = denoise(x, level) if guide is None else guided_epsilon(denoise, x, level, ab, guide)
            clean = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
            if self.clip_sample is not None:
                clean = clean.clamp(-self.clip_sample, self.clip_sample)
                eps = (x - ab.sqrt() * clean) / (1 - ab).sqrt()  # keep ε consistent with the clipped estimate
            x = ab_prev.sqrt() * clean + (1 - ab_prev).sqrt() * eps  # η = 0: deterministic DDIM step
        if known is not None:
            x = torch.where(known_mask, known, x)
        return x

    @staticmethod
    def _noised(known: torch.Tensor, ab: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        noise = torch.randn(known.shape, device=known.device, generator=generator)
        return ab.sqrt() * known + (1 - ab).sqrt() * noise
