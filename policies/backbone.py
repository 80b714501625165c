"""ResNet-18 (He et al. 2016) in plain torch, with a choice of normalisation, plus spatial-softmax pooling.

There is no torchvision in the stack and no pretrained weights: both policies train their vision from
scratch, which is why GroupNorm is the default (BatchNorm statistics are poor at robot batch sizes, and
frozen BatchNorm is an identity until someone loads weights into it).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

STAGE_BLOCKS = (2, 2, 2, 2)  # ResNet-18


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm with fixed statistics and affine terms: buffers, not parameters, never updated."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(channels))
        self.register_buffer("bias", torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight * torch.rsqrt(self.running_var + self.eps)
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "group":
        # 16 channels per group, as Diffusion Policy does when it swaps BatchNorm out
        return nn.GroupNorm(max(1, channels // 16), channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "frozen_batch":
        return FrozenBatchNorm2d(channels)
    raise ValueError(f"unknown norm '{kind}'")


def pixel_coordinates(h: int, w: int, **tensor_options) -> torch.Tensor:
    """(2, h, w): each pixel's x and y, from -1 at the first row or column to 1 at the last."""
    ys, xs = torch.meshgrid(
        torch.linspace(-1.0, 1.0, h, **tensor_options),
        torch.linspace(-1.0, 1.0, w, **tensor_options),
        indexing="ij",
    )
    return torch.stack([xs, ys])


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, norm: str):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.norm1 = make_norm(norm, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.norm2 = make_norm(norm, c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), make_norm(norm, c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNet18(nn.Module):
    """Images (B, 3, H, W) in [-1, 1] → feature map (B, 2^(stages-1)·width, H/2^(stages+1), W/2^(stages+1)).

    `stages` < 4 stops early: on small images the full network's 32× reduction leaves a handful of
    cells (3×4 at 91×122), and where a small object sits must then be coded inside a cell's channels;
    three stages keep a 16× finer grid for the transformer or the spatial softmax to read positions from.

    `coords` appends each pixel's x and y in [-1, 1] to its colour (CoordConv, Liu et al. 2018). A conv
    net is built to ignore where things are; ACT's transformer adds positions to attention keys only, so
    the features it reads back must say where the object is themselves. Fixed cameras make absolute
    image position worth knowing: it is the object's position on the table.
    """

    def __init__(self, width: int = 64, norm: str = "group", stages: int = 4, coords: bool = False):
        super().__init__()
        self.coords = coords
        self.stem = nn.Sequential(
            nn.Conv2d(5 if coords else 3, width, 7, 2, 3, bias=False),
            make_norm(norm, width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        built, c_in = [], width
        for i, blocks in enumerate(STAGE_BLOCKS[:stages]):
            c_out = width * 2**i
            layers = [BasicBlock(c_in, c_out, 1 if i == 0 else 2, norm)]
            layers += [BasicBlock(c_out, c_out, 1, norm) for _ in range(blocks - 1)]
            built.append(nn.Sequential(*layers))
            c_in = c_out
        self.stages = nn.Sequential(*built)
        self.out_channels = c_in
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        # Zero the last norm of each residual branch so every block starts as an identity: stabler from scratch.
        for m in self.modules():
            if isinstance(m, BasicBlock) and isinstance(m.norm2, nn.GroupNorm | nn.BatchNorm2d):
                nn.init.zeros_(m.norm2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.coords:
            b, _, h, w = x.shape
            grid = pixel_coordinates(h, w, device=x.device, dtype=x.dtype)
            x = torch.cat([x, grid.expand(b, 2, h, w)], dim=1)
        return self.stages(self.stem(x))

    @staticmethod
    def feature_size(size: tuple[int, int], stages: int = 4) -> tuple[int, int]:
        """Spatial size of the output for an input of `size` (stride-2 conv, max-pool, stride-2 stages)."""
        h, w = size
        for _ in range(stages + 1):
            h, w = (h + 1) // 2, (w + 1) // 2
        return h, w


class SpatialSoftmax(nn.Module):
    """Feature map → K expected image coordinates (Levine et al. 2016): where each learned keypoint is.

    Output (B, 2K), coordinates in [-1, 1]. It keeps position information that average pooling throws away.
    """

    def __init__(self, channels: int, keypoints: int, size: tuple[int, int]):
        super().__init__()
        self.keypoints = nn.Conv2d(channels, keypoints, 1)
        h, w = size
        grid = pixel_coordinates(h, w).flatten(1).T  # (h·w, 2): x, y of each cell
        self.register_buffer("grid", grid.contiguous(), persistent=False)
        self.out_dim = 2 * keypoints

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits = self.keypoints(features).flatten(2)  # (B, K, h·w)
        attention = logits.softmax(dim=-1)
        return (attention @ self.grid).flatten(1)  # (B, K, 2) → (B, 2K)


class CameraBackbones(nn.Module):
    """One ResNet-18 shared by all cameras, or one per camera: (B, N, 3, H, W) in [0, 1] → (B, N, C, h, w)."""

    def __init__(
        self, cameras: int, width: int, norm: str, share: bool, stages: int = 4, coords: bool = False
    ):
        super().__init__()
        self.cameras = cameras
        nets = (ResNet18(width, norm, stages, coords) for _ in range(1 if share else cameras))
        self.nets = nn.ModuleList(nets)
        self.out_channels = self.nets[0].out_channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images * 2.0 - 1.0
        if len(self.nets) == 1:
            b, n = x.shape[:2]
            features = self.nets[0](x.flatten(0, 1))
            return features.unflatten(0, (b, n))
        return torch.stack([net(x[:, i]) for i, net in enumerate(self.nets)], dim=1)
