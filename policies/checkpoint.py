"""Checkpoints that load without unpickling code: tensors via `torch.load(weights_only=True)`, everything
else as JSON.

    <checkpoint>/policy.json      format, version, config, spec, normalisation stats, step, metrics,
                                  what it was trained on (task texts, episode count)
    <checkpoint>/weights.pt       state_dict of the network to deploy (the EMA copy where the method has one)
    <checkpoint>/train_state.pt   only in `last/`: live weights, EMA, optimiser, RNG, counters (for resume)

A training run folder holds `best/` (lowest validation loss), `last/` and `metrics.jsonl`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch

from policies.config import PolicyConfig
from policies.normalize import Normalizer
from policies.spec import PolicySpec
from robot_stack.errors import RobotStackError

FORMAT = "robot_stack.policy"
VERSION = 1
META, WEIGHTS, TRAIN_STATE = "policy.json", "weights.pt", "train_state.pt"


@dataclass
class Checkpoint:
    path: Path
    config: PolicyConfig
    spec: PolicySpec
    normalizer: Normalizer
    step: int
    metrics: dict
    trained_on: dict = field(default_factory=dict)  # {"tasks": [...], "episodes": N}; {} if older

    def weights(self, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        return _load_tensors(self.path / WEIGHTS, device)

    def train_state(self, device: str | torch.device = "cpu") -> dict | None:
        path = self.path / TRAIN_STATE
        return _load_tensors(path, device) if path.exists() else None


def save_checkpoint(
    path: Path,
    *,
    config: PolicyConfig,
    spec: PolicySpec,
    normalizer: Normalizer,
    weights: dict[str, torch.Tensor],
    step: int,
    metrics: dict | None = None,
    train_state: dict | None = None,
    trained_on: dict | None = None,
) -> Path:
    """Write a checkpoint folder atomically: it appears complete under `path` or not at all."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    old = path.with_name(path.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "policy": config.policy,
        "step": step,
        "config": config.model_dump(mode="json"),
        "spec": spec.model_dump(mode="json"),
        "normalization": normalizer.to_json(),
        "metrics": metrics or {},
        "trained_on": trained_on or {},
        "torch": torch.__version__,
    }
    torch.save({k: v.detach().cpu() for k, v in weights.items()}, tmp / WEIGHTS)
    if train_state is not None:
        torch.save(train_state, tmp / TRAIN_STATE)
    (tmp / META).write_text(json.dumps(meta, indent=2))
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def resolve(path: str | Path) -> Path:
    """A checkpoint folder, or a run folder (its `best/`, else its `last/`)."""
    path = Path(path)
    if (path / META).exists():
        return path
    for name in ("best", "last"):
        if (path / name / META).exists():
            return path / name
    if not path.exists():
        raise RobotStackError(
            f"policy checkpoint {path} not found", hint="pass the folder `train` wrote, or its best/"
        )
    raise RobotStackError(
        f"{path} is not a policy checkpoint (no {META}, best/ or last/ in it)",
        hint="pass the folder `train` wrote, or its best/ or last/ subfolder",
    )


def load_checkpoint(path: str | Path) -> Checkpoint:
    path = resolve(path)
    try:
        meta = json.loads((path / META).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RobotStackError(
            f"cannot read {path / META}: {exc}", hint="the checkpoint is damaged; use another"
        ) from exc
    if meta.get("format") != FORMAT:
        raise RobotStackError(
            f"{path / META} is not a robot_stack policy checkpoint", hint="pass a folder `train` wrote"
        )
    if meta.get("version") != VERSION:
        raise RobotStackError(
            f"{path} has checkpoint format version {meta.get('version')}; this robot_stack reads "
            f"version {VERSION}",
            hint="use the robot_stack version that trained it",
        )
    try:
        config = PolicyConfig.model_validate(meta["config"])
        spec = PolicySpec.model_validate(meta["spec"])
        normalizer = Normalizer.from_json(meta["normalization"])
    except (KeyError, ValueError) as exc:
        raise RobotStackError(
            f"{path / META} is incomplete or invalid: {exc}", hint="use another checkpoint"
        ) from None
    if not (path / WEIGHTS).exists():
        raise RobotStackError(f"{path} has no {WEIGHTS}", hint="the checkpoint is incomplete; use another")
    return Checkpoint(
        path,
        config,
        spec,
        normalizer,
        int(meta.get("step", 0)),
        meta.get("metrics", {}),
        meta.get("trained_on") or {},
    )


def _load_tensors(path: Path, device: str | torch.device):
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises several types for damaged or foreign files
        raise RobotStackError(
            f"cannot load {path}: {exc}",
            hint="the file is damaged or not plain tensors; use another checkpoint",
        ) from None
