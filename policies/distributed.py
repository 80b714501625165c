"""Single-process and torchrun (DistributedDataParallel) training share one code path.

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; only when WORLD_SIZE > 1 is a process group created. Each
process then owns one GPU (cuda:LOCAL_RANK), reads its own shard of every epoch, and rank 0 alone writes
logs and checkpoints.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from robot_stack.errors import RobotStackError


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "auto") -> DistEnv:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistEnv(0, 1, 0, _pick_device(device, local_rank=None))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    chosen = _pick_device(device, local_rank)
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        # Created once per process and kept for later train() calls: re-creating a group in the same
        # torchrun process can hang on the launcher's rendezvous store.
        dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
        atexit.register(_destroy)
    return DistEnv(rank, world_size, local_rank, chosen)


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _pick_device(device: str, local_rank: int | None) -> torch.device:
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank or 0)
        return torch.device("cpu")
    chosen = torch.device(device)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise RobotStackError(
            f"training device '{device}' asked for, but torch sees no CUDA GPU",
            hint="use --set train.device=cpu, or install a CUDA build of torch",
        )
    if chosen.type == "cuda" and local_rank is not None:
        return torch.device("cuda", local_rank)
    return chosen


def mean_across(value: float, weight: float, env: DistEnv) -> float:
    """Weighted mean of a per-process value over all processes (identity when single-process)."""
    if not env.distributed:
        return value
    t = torch.tensor([value * weight, weight], dtype=torch.float64, device=env.device)
    dist.all_reduce(t)
    return float(t[0] / t[1].clamp(min=1e-12))


def finish(env: DistEnv) -> None:
    """Wait until every process is done with this run (rank 0 may still be writing its checkpoint)."""
    if env.distributed and dist.is_initialized():
        dist.barrier()


def any_across(flag: bool, env: DistEnv) -> bool:
    """True on every process if it is true on any: decisions such as "stop now" must be taken together,
    or the processes that carry on wait forever for the ones that stopped."""
    if not env.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=env.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)
