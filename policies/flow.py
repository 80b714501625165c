"""Flow matching with straight (rectified) paths (Lipman et al. 2023; Liu et al. 2023).

A sample moves on x_τ = (1 − τ)·noise + τ·data for τ ∈ [0, 1]; the network learns the constant velocity
data − noise. Because the paths are straight, a few Euler steps already land close to the data, which is
why it is offered beside DDIM for a policy that must answer quickly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from policies.guidance import Guidance, guided_velocity

VelocityField = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_τ, network time) → velocity

# The time embedding was designed for integer noise levels in the tens; τ is scaled into that range.
TIME_SCALE = 100.0


class FlowMatching:
    def __init__(self, clip_sample: float | None):
        self.clip_sample = clip_sample

    def training_pair(self, data: torch.Tensor, generator: torch.Generator | None = None):
        """(x_τ, network time, target velocity) at a uniformly drawn τ per sample."""
        b = data.shape[0]
        tau = torch.rand((b,), device=data.device, generator=generator)
        noise = torch.randn(data.shape, device=data.device, generator=generator)
        tau_b = tau.view(-1, *([1] * (data.dim() - 1)))
        return (1 - tau_b) * noise + tau_b * data, tau * TIME_SCALE, data - noise

    @torch.no_grad()
    def sample(
        self,
        velocity: VelocityField,
        shape: tuple[int, ...],
        steps: int,
        device: torch.device,
        generator: torch.Generator | None = None,
        known: torch.Tensor | None = None,
        known_mask: torch.Tensor | None = None,
        guide: Guidance | None = None,
    ) -> torch.Tensor:
        """Euler integration from noise (τ = 0) to data (τ = 1); `known` entries ride their own straight
        path from the same starting noise, so the free entries are generated consistently with them.
        `guide`: real-time chunking's soft guidance toward a previous plan (policies.guidance)."""
        start = torch.randn(shape, device=device, generator=generator)
        x = start
        for i in range(steps):
            tau = i / steps
            if known is not None:
                x = torch.where(known_mask, (1 - tau) * start + tau * known, x)
            t = torch.full((shape[0],), tau * TIME_SCALE, device=device)
            v = velocity(x, t) if guide is None else guided_velocity(velocity, x, t, tau, guide)
            x = x + v / steps
        if self.clip_sample is not None:
            x = x.clamp(-self.clip_sample, self.clip_sample)
        if known is not None:
            x = torch.where(known_mask, known, x)
        return x
