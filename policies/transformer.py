"""Transformer layers for ACT, in the DETR style: positions are added to queries and keys at every layer
(not once at the input), so a deep stack keeps knowing where each token came from.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class EncoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ff = _FeedForward(dim, ff_dim, dropout)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        q = x + pos
        x = self.norm1(x + self.drop(self.attn(q, q, x, key_padding_mask=pad, need_weights=False)[0]))
        return self.norm2(x + self.ff(x))


class DecoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ff = _FeedForward(dim, ff_dim, dropout)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, query_pos: torch.Tensor, memory: torch.Tensor, memory_pos: torch.Tensor
    ) -> torch.Tensor:
        q = x + query_pos
        x = self.norm1(x + self.drop(self.self_attn(q, q, x, need_weights=False)[0]))
        attended = self.cross_attn(x + query_pos, memory + memory_pos, memory, need_weights=False)[0]
        x = self.norm2(x + self.drop(attended))
        return self.norm3(x + self.ff(x))


class Encoder(nn.Module):
    def __init__(self, layers: int, dim: int, heads: int, ff_dim: int, dropout: float):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(dim, heads, ff_dim, dropout) for _ in range(layers))

    def forward(self, x: torch.Tensor, pos: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, pos, pad)
        return x


class Decoder(nn.Module):
    """Every layer refines the previous one's output and the LAST layer's output is returned, so all
    configured layers shape the prediction (the original ACT read the first layer's output only)."""

    def __init__(self, layers: int, dim: int, heads: int, ff_dim: int, dropout: float):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, ff_dim, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(
        self, x: torch.Tensor, query_pos: torch.Tensor, memory: torch.Tensor, memory_pos: torch.Tensor
    ) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, query_pos, memory, memory_pos)
        return self.norm(x)


class _FeedForward(nn.Module):
    def __init__(self, dim: int, ff_dim: int, dropout: float):
        super().__init__()
        self.linear1, self.linear2 = nn.Linear(dim, ff_dim), nn.Linear(ff_dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.linear2(self.drop(F.relu(self.linear1(x)))))


def sine_table(length: int, dim: int) -> torch.Tensor:
    """Fixed 1-D sinusoidal positions (Vaswani et al. 2017), (length, dim)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table


def sine_grid(h: int, w: int, dim: int) -> torch.Tensor:
    """Fixed 2-D positions for an h×w feature map, (h·w, dim): half the channels encode y, half x."""
    half = dim // 2
    y = sine_table(h, half)[:, None, :].expand(h, w, half)
    x = sine_table(w, dim - half)[None, :, :].expand(h, w, dim - half)
    return torch.cat([y, x], dim=-1).reshape(h * w, dim)
