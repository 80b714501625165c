"""Image preparation shared by training and inference, so both see pixels made the same way.

A camera may first be cut down to a fixed region of its frame (the workspace a wide view wastes
pixels around); frames are then resized (antialiased bilinear) to the policy's image size and stored
as uint8; the network input is a crop of that: random during training (a cheap, effective augmentation
for visuomotor policies), centred at inference.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from policies.config import Region


def cut_region(frame: np.ndarray, region: Region | None) -> np.ndarray:
    """The part of an (H, W, ...) frame inside `region`; the whole frame for None."""
    if region is None:
        return frame
    h, w = frame.shape[:2]
    top, left, height, width = region
    r0, c0 = round(top * h), round(left * w)
    return frame[r0 : r0 + max(1, round(height * h)), c0 : c0 + max(1, round(width * w))]


def prepare_frame(frame: np.ndarray, size: tuple[int, int], region: Region | None = None) -> np.ndarray:
    """A camera frame as the policy stores it: its region, resized to `size`."""
    return resize_frame(cut_region(frame, region), size)


def resize_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 → (h, w, 3) uint8."""
    if frame.shape[:2] == tuple(size):
        return np.ascontiguousarray(frame)
    x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float()
    x = F.interpolate(x, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)
    return x[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (..., 3, H, W) → float in [0, 1]."""
    return images.float() / 255.0


def center_crop(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    h, w = images.shape[-2:]
    top, left = (h - size[0]) // 2, (w - size[1]) // 2
    return images[..., top : top + size[0], left : left + size[1]]


def random_crop(
    images: torch.Tensor, size: tuple[int, int], generator: torch.Generator | None = None
) -> torch.Tensor:
    """Crop (B, ..., 3, H, W) at one random offset per sample (all steps and cameras of a sample move
    together, so the observation history stays consistent)."""
    b, (h, w) = images.shape[0], images.shape[-2:]
    if (h, w) == tuple(size):
        return images
    tops = torch.randint(0, h - size[0] + 1, (b,), generator=generator).tolist()
    lefts = torch.randint(0, w - size[1] + 1, (b,), generator=generator).tolist()
    return torch.stack(
        [
            img[..., top : top + size[0], left : left + size[1]]
            for img, top, left in zip(images, tops, lefts, strict=True)
        ]
    )


def color_jitter(
    images: torch.Tensor, strength: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random brightness, contrast and saturation per sample, each scaled by a factor in 1 ± strength."""
    if strength <= 0:
        return images
    b = images.shape[0]
    shape = (b,) + (1,) * (images.dim() - 1)

    def factor() -> torch.Tensor:
        return (1 + (torch.rand(shape, generator=generator) * 2 - 1) * strength).to(images.device)

    images = images * factor()
    mean = images.mean(dim=(-3, -2, -1), keepdim=True)
    images = (images - mean) * factor() + mean
    gray = 0.299 * images[..., 0:1, :, :] + 0.587 * images[..., 1:2, :, :] + 0.114 * images[..., 2:3, :, :]
    images = (images - gray) * factor() + gray
    return images.clamp(0.0, 1.0)


def prepare_images(
    images: torch.Tensor,
    crop: tuple[int, int],
    train: bool,
    jitter: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """uint8 (B, T, N, 3, H, W) → float network input (B, T, N, 3, crop_h, crop_w)."""
    x = to_float(images)
    if train:
        return color_jitter(random_crop(x, crop, generator), jitter, generator)
    return center_crop(x, crop)
