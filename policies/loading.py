"""From an EpisodeSet to device batches: episode split, normaliser fit, samplers and loaders."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset

from policies.config import PolicyConfig
from policies.dataset import EpisodeDataset
from policies.distributed import DistEnv
from policies.episodes import Episode, EpisodeSet
from policies.images import prepare_images
from policies.normalize import Normalizer
from policies.spec import PolicySpec
from robot_stack.errors import RobotStackError


def spec_for(config: PolicyConfig, data: EpisodeSet) -> PolicySpec:
    """The policy's inputs: the configured cameras (default: all the dataset has) and the rig's joints."""
    cameras = list(config.data.cameras) if config.data.cameras is not None else list(data.cameras)
    unknown = [c for c in cameras if c not in data.cameras]
    if unknown:
        raise RobotStackError(
            f"data.cameras names {', '.join(unknown)}, which the dataset does not have "
            f"(it has: {', '.join(data.cameras)})",
            hint="pick cameras from that list with --set data.cameras='[\"NAME\", ...]' or --set data.cameras=null",
        )
    stray = [c for c in config.data.regions if c not in cameras]
    if stray:
        raise RobotStackError(
            f"data.regions names {', '.join(stray)}, which the policy does not use (its cameras: {', '.join(cameras)})",
            hint="give regions only for the cameras in data.cameras",
        )
    action_dims = {np.asarray(e.action).shape[-1] for e in data.episodes}
    if len(action_dims) != 1:
        raise RobotStackError(
            f"episodes disagree on the action size: {sorted(action_dims)}",
            hint="train on episodes recorded with one rig",
        )
    return PolicySpec(
        cameras=cameras,
        image_size=config.data.image_size,
        crop_size=config.data.crop_size,
        regions=config.data.regions,
        arms=data.arms,
        action_dim=action_dims.pop(),
        control_rate_hz=data.control_rate_hz,
        stride=config.data.stride,
    )


def split_episodes(count: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Hold out whole episodes (neighbouring ticks of one episode are near-duplicates, so a split by
    sample would measure memorisation, not generalisation)."""
    if val_fraction <= 0 or count < 2:
        return list(range(count)), []
    order = np.random.default_rng(seed).permutation(count)
    n_val = min(count - 1, max(1, round(count * val_fraction)))
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


def fit_normalizer(config: PolicyConfig, episodes: Sequence[Episode]) -> Normalizer:
    return Normalizer.fit(
        config.data.normalization,
        (np.asarray(e.observation) for e in episodes),
        (np.asarray(e.action) for e in episodes),
    )


def make_dataset(
    config: PolicyConfig, spec: PolicySpec, episodes: Sequence[Episode], normalizer: Normalizer
) -> EpisodeDataset:
    return EpisodeDataset(
        episodes,
        spec.cameras,
        spec.image_size,
        config.n_obs_steps,
        config.horizon,
        spec.stride,
        normalizer,
        cache_frames=config.data.cache_frames,
        trim_idle_start=config.data.trim_idle_start,
        regions=spec.regions,
    )


def train_batches(
    dataset: EpisodeDataset, config: PolicyConfig, env: DistEnv, first_epoch: int
) -> Iterator[tuple[int, dict]]:
    """Endless (epoch, batch) stream; each epoch is a fresh shuffle, sharded across processes."""
    cfg = config.train
    sampler = DistributedSampler(
        dataset, num_replicas=env.world_size, rank=env.rank, shuffle=True, seed=cfg.seed
    )
    loader = DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.num_workers,
        drop_last=len(sampler) >= cfg.batch_size,
        pin_memory=env.device.type == "cuda",
        persistent_workers=cfg.num_workers > 0,
    )
    epoch = first_epoch
    while True:
        sampler.set_epoch(epoch)
        for batch in loader:
            yield epoch, batch
        epoch += 1


def val_batches(dataset: EpisodeDataset, config: PolicyConfig, env: DistEnv) -> list[dict]:
    """A fixed set of validation samples spread over all held-out ticks, this process's share of it.
    Kept in memory: it is small (val_batches × batch_size samples) and re-read at every evaluation."""
    cfg = config.train
    count = min(len(dataset), cfg.val_batches * cfg.batch_size)
    if count == 0:
        return []
    picks = np.unique(np.linspace(0, len(dataset) - 1, count).round().astype(int))[env.rank :: env.world_size]
    loader = DataLoader(Subset(dataset, picks.tolist()), batch_size=cfg.batch_size, shuffle=False)
    return list(loader)


def to_device(
    batch: dict,
    config: PolicyConfig,
    device: torch.device,
    train: bool,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """Move a batch to the device and turn uint8 frames into (augmented when training) network input."""
    images = batch["images"].to(device, non_blocking=True)
    state = batch["state"].to(device, non_blocking=True)
    if train and config.data.state_noise > 0:
        noise = torch.randn(state.shape, generator=generator)  # on the CPU, as the image augmentation's
        state = state + config.data.state_noise * noise.to(device)
    return {
        "images": prepare_images(images, config.data.crop_size, train, config.data.color_jitter, generator),
        "state": state,
        "action": batch["action"].to(device, non_blocking=True),
        "action_mask": batch["action_mask"].to(device, non_blocking=True),
    }
