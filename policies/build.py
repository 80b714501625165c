"""Build the network a configuration describes, for the inputs a spec describes."""

from __future__ import annotations

from torch import nn

from policies.act import ACTModel
from policies.config import PolicyConfig
from policies.diffusion import DiffusionModel
from policies.spec import PolicySpec


def build_model(config: PolicyConfig, spec: PolicySpec) -> nn.Module:
    """ACTModel or DiffusionModel; both expose forward(batch) → (loss, metrics) and predict_chunk(...)."""
    if config.policy == "act":
        return ACTModel(config.act, config.backbone, spec)
    return DiffusionModel(config.diffusion, config.backbone, spec, objective=config.policy)


def uses_ema(config: PolicyConfig) -> bool:
    """Diffusion and flow deploy the EMA weights (Chi et al. 2023); ACT deploys the trained weights."""
    return config.policy != "act"
