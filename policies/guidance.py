"""Soft inpainting with guidance for real-time chunking (Black et al. 2025, "Real-Time Execution of
Action Chunking Flow Policies", Algorithm 1), for the DDIM and flow samplers.

While a new chunk is being generated, the robot keeps executing the previous one. The new chunk
should (1) equal the previous plan where it will already have been executed when the new chunk
arrives (the frozen prefix, weight 1), (2) stay close to the rest of the previous plan and move away
from it gradually (soft weights decaying to 0), (3) be free beyond the previous plan. At each
sampling step the denoised estimate x̂ (flow: x + (1 − τ)·v; DDIM: the predicted clean sequence) is
pulled toward the previous plan Y by a vector–Jacobian product (ΠGDM, Song et al. 2023):

    g = ((Y − x̂(x)) ⊙ W)ᵀ · ∂x̂/∂x

flow:  v ← v + min(β, (1 − τ) / (τ · r²)) · g,   r² = (1 − τ)² / (τ² + (1 − τ)²)

DDIM uses the same rule after writing its state in the straight-path form: x / (√ᾱ + √(1 − ᾱ)) =
τ·x0 + (1 − τ)·ε with τ = √ᾱ / (√ᾱ + √(1 − ᾱ)); the clean estimate moves by (1 − τ)·weight·g (g taken
with respect to that rescaled state) and ε is recomputed from it, so β means the same in both.

β (`max_weight`) caps the guidance where it would explode (τ → 0, ᾱ → 1); RTC uses β = 5. The
gradient needs one backward pass through the denoiser per step (about twice the work of plain
sampling). Hard replacement of the frozen prefix (policies.ddpm / policies.flow `known`) is applied
as well, so committed actions stay bit-exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Guidance:
    """The plan to stay close to: `target` (B, H, A) in the sampler's (normalised) space, `weights`
    (1, H, 1) in [0, 1] (0: free), `max_weight` β."""

    target: torch.Tensor
    weights: torch.Tensor
    max_weight: float = 5.0


def soft_mask(horizon: int, start: int, frozen: int, overlap: int) -> torch.Tensor:
    """RTC's weights (1, horizon, 1) over a sequence whose position `start` is the current tick:
    1 on the `frozen` committed positions, then c·(e^c − 1)/(e − 1) with c = (overlap − i)/(overlap −
    frozen + 1) decaying over the rest of the `overlap` positions the previous plan covers, 0 after
    (and before `start`)."""
    if not 0 <= frozen <= overlap or start + overlap > horizon:
        raise ValueError(
            f"frozen {frozen} ≤ overlap {overlap} and start {start} + overlap ≤ horizon {horizon}"
        )
    weights = torch.zeros(1, horizon, 1)
    for i in range(overlap):
        if i < frozen:
            w = 1.0
        else:
            c = (overlap - i) / (overlap - frozen + 1)
            w = c * (math.exp(c) - 1) / (math.e - 1)
        weights[0, start + i, 0] = w
    return weights


def _vjp(
    estimate_of: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor, guide: Guidance
):
    """(network output, estimate, g) at x, where estimate_of(x) → (output, estimate)."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        output, estimate = estimate_of(xg)
        error = (guide.target - estimate) * guide.weights
        (g,) = torch.autograd.grad(estimate, xg, grad_outputs=error.detach())
    return output.detach(), estimate.detach(), g


def guided_velocity(
    velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    t: torch.Tensor,
    tau: float,
    guide: Guidance,
) -> torch.Tensor:
    """Flow matching: the velocity at (x, τ) with the guidance term added."""

    def estimate(xg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = velocity(xg, t)
        return out, xg + (1 - tau) * out  # x̂1: where a straight path from x would land

    v, _, g = _vjp(estimate, x, guide)
    return v + _flow_weight(tau, guide.max_weight) * g


def _flow_weight(tau: float, max_weight: float) -> float:
    """min(β, (1 − τ) / (τ · r²)), r² = (1 − τ)² / (τ² + (1 − τ)²): RTC's guidance weight."""
    if tau <= 0:
        return max_weight
    r2 = (1 - tau) ** 2 / (tau**2 + (1 - tau) ** 2)
    return max_weight if r2 == 0 else min(max_weight, (1 - tau) / (tau * r2))


def guided_epsilon(
    denoise: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    t: torch.Tensor,
    alpha_bar: torch.Tensor,
    guide: Guidance,
) -> torch.Tensor:
    """DDIM: the predicted noise at (x, t), changed so the clean estimate moves as the flow rule moves
    x̂1 (the same β means the same pull in both samplers)."""
    a, s = float(alpha_bar.sqrt()), float((1 - alpha_bar).sqrt())

    def estimate(xg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = denoise(xg, t)
        return out, (xg - s * out) / a  # x̂0: the predicted clean sequence

    eps, clean, g = _vjp(estimate, x, guide)
    # x / (a + s) = τ·x0 + (1 − τ)·ε with τ = a / (a + s): the straight-path form of this noise level
    scale, tau = a + s, a / (a + s)
    clean = clean + (1 - tau) * _flow_weight(tau, guide.max_weight) * scale * g
    return (x - a * clean) / s if s > 0 else eps
