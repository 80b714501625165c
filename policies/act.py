"""ACT: Action Chunking with Transformers (Zhao et al. 2023), written for this stack.

From the current images and joint state the network predicts the next `chunk_size` actions at once.
Training is a conditional VAE: a small transformer encodes (state, true action chunk) into a style
latent z; the main encoder-decoder reconstructs the chunk from (images, state, z). At inference z = 0,
the mean of the prior. Loss: masked L1 reconstruction + kl_weight · KL(q(z) ‖ N(0, I)).
"""

from __future__ import annotations

import torch
from torch import nn

from policies.backbone import CameraBackbones, ResNet18
from policies.config import ACTConfig, BackboneConfig
from policies.spec import PolicySpec
from policies.transformer import Decoder, Encoder, sine_grid, sine_table


class ACTModel(nn.Module):
    def __init__(self, cfg: ACTConfig, backbone: BackboneConfig, spec: PolicySpec):
        super().__init__()
        self.cfg = cfg
        d, cameras = cfg.hidden_dim, len(spec.cameras)
        self.chunk_size = cfg.chunk_size
        layer = dict(dim=d, heads=cfg.n_heads, ff_dim=cfg.ff_dim, dropout=cfg.dropout)

        # observation → encoder tokens: [z, state, camera_0 cells..., camera_N cells...]
        self.backbones = CameraBackbones(
            cameras, backbone.width, backbone.norm, backbone.share, backbone.stages, backbone.coords
        )
        self.image_proj = nn.Conv2d(self.backbones.out_channels, d, 1)
        fh, fw = ResNet18.feature_size(spec.crop_size, backbone.stages)
        self.register_buffer("cell_pos", sine_grid(fh, fw, d), persistent=False)
        self.camera_embed = nn.Parameter(torch.zeros(cameras, d))  # tells cameras apart (same grid positions)
        self.state_proj = nn.Linear(spec.state_dim, d)
        self.latent_proj = nn.Linear(cfg.latent_dim, d)
        # Learned positions start at unit scale, like the LayerNorm'd tokens they are added to (DETR's
        # embeddings). At 0.02 the decoder's queries are indistinguishable: every one of them attends
        # alike, the chunk comes out flat (one target for all k ticks), and training barely moves it.
        self.token_pos = nn.Parameter(torch.randn(2, d))  # for the z and state tokens
        self.encoder = Encoder(cfg.enc_layers, **layer)
        self.decoder = Decoder(cfg.dec_layers, **layer)
        self.query_pos = nn.Parameter(torch.randn(cfg.chunk_size, d))  # one per tick of the chunk
        self.action_head = nn.Linear(d, spec.action_dim)

        # CVAE posterior q(z | state, actions): [cls, state, action_0 ... action_k-1]
        self.vae_cls = nn.Parameter(torch.randn(1, d) * 0.02)
        self.vae_state = nn.Linear(spec.state_dim, d)
        self.vae_action = nn.Linear(spec.action_dim, d)
        self.vae_encoder = Encoder(cfg.vae_enc_layers, **layer)
        self.register_buffer("vae_pos", sine_table(cfg.chunk_size + 2, d), persistent=False)
        self.latent_head = nn.Linear(d, 2 * cfg.latent_dim)

    def posterior(self, state: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor):
        """(mu, logvar) of q(z | state, action chunk); padded actions are masked out of attention."""
        b = state.shape[0]
        tokens = torch.cat(
            [
                self.vae_cls.expand(b, -1, -1),
                self.vae_state(state)[:, None],
                self.vae_action(actions),
            ],
            dim=1,
        )
        pad = torch.cat([torch.zeros(b, 2, dtype=torch.bool, device=mask.device), ~mask], dim=1)
        out = self.vae_encoder(tokens, self.vae_pos[None], pad)
        mu, logvar = self.latent_head(out[:, 0]).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, images: torch.Tensor, state: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """images (B, N, 3, H, W) in [0, 1], state (B, J), z (B, latent) → normalised actions (B, k, A)."""
        b = state.shape[0]
        cells = self.image_proj(self.backbones(images).flatten(0, 1))  # (B·N, d, h, w)
        cells = cells.flatten(2).transpose(1, 2).unflatten(0, (b, -1))  # (B, N, h·w, d)
        cell_pos = self.cell_pos[None, None] + self.camera_embed[None, :, None]
        tokens = torch.cat(
            [self.latent_proj(z)[:, None], self.state_proj(state)[:, None], cells.flatten(1, 2)], 1
        )
        pos = torch.cat(
            [self.token_pos[None].expand(b, -1, -1), cell_pos.expand(b, -1, -1, -1).flatten(1, 2)], dim=1
        )
        memory = self.encoder(tokens, pos)
        queries = torch.zeros(b, self.chunk_size, memory.shape[-1], device=memory.device, dtype=memory.dtype)
        out = self.decoder(queries, self.query_pos[None], memory, pos)
        return self.action_head(out)

    def forward(
        self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss for a batch of samples (images/state: one observation step; action: the chunk).
        In eval mode z is the posterior mean, so the loss is deterministic and `generator` is not needed."""
        images, state = batch["images"][:, -1], batch["state"][:, -1]
        actions, mask = batch["action"], batch["action_mask"]
        mu, logvar = self.posterior(state, actions, mask)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        predicted = self.decode(images, state, z)
        weight = mask[..., None].to(predicted.dtype)
        l1 = ((predicted - actions).abs() * weight).sum() / (weight.sum() * actions.shape[-1]).clamp(min=1.0)
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(-1).mean()
        loss = l1 + self.cfg.kl_weight * kl
        return loss, {"l1": float(l1.detach()), "kl": float(kl.detach())}

    @torch.no_grad()
    def predict_chunk(
        self,
        images: torch.Tensor,
        state: torch.Tensor,
        prefix: torch.Tensor | None = None,
        steps: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Normalised actions (B, chunk_size, A) from the current tick on, with z = 0."""
        if prefix is not None:
            raise ValueError(
                "ACT predicts a chunk in one pass; prefix inpainting needs a diffusion or flow policy"
            )
        state = state[:, -1]
        z = torch.zeros(state.shape[0], self.cfg.latent_dim, device=state.device, dtype=state.dtype)
        return self.decode(images[:, -1], state, z)
