"""`robot-stack train`: train ACT, Diffusion Policy or flow matching on recorded episodes.

The same command runs single-process (CPU or one GPU) and under `torchrun` (one process per GPU,
DistributedDataParallel): policies.train reads torchrun's environment; only rank 0 prints.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console

from robot_stack.errors import RobotStackError

EXAMPLES = """\
examples:
  robot-stack train --policy act --dataset demos.zarr --out runs/act
        ACT at the sim-cpu preset (about an hour on a 2-core CPU)
  robot-stack train --policy diffusion --dataset demos.zarr --out runs/dp --preset paper
        Diffusion Policy with the published settings (wants a GPU)
  robot-stack train --policy flow --dataset demos.zarr --out runs/flow --set train.steps=2000 \\
        --set diffusion.flow_steps=5
        flow matching, with settings changed (section.key=value, JSON values)
  robot-stack train --policy act --dataset demos.zarr --out runs/act --resume --set train.steps=10000
        continue runs/act from its last checkpoint, to more steps
  torchrun --nproc_per_node 4 $(which robot-stack) train --policy act --dataset demos.zarr --out runs/act
        the same command on 4 GPUs (DistributedDataParallel; rank 0 writes logs and checkpoints)

Output: OUT/best/ (lowest validation loss), OUT/last/ (for --resume), OUT/metrics.jsonl (one JSON
object per line). Evaluate with: robot-stack eval --checkpoint OUT --task transfer_cube --episodes 50
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a policy (ACT, Diffusion Policy, flow matching) on recorded episodes",
        description="Train a policy on the episodes of a dataset recorded with `robot-stack record`. "
        "Progress shows loss, samples/s and ETA; metrics go to OUT/metrics.jsonl as JSON lines.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--policy", required=True, choices=("act", "diffusion", "flow"), help="the method")
    p.add_argument("--dataset", required=True, type=Path, metavar="PATH", help="episode dataset (.zarr)")
    p.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="run folder for checkpoints and logs"
    )
    p.add_argument(
        "--preset",
        default="sim-cpu",
        choices=("test", "sim-cpu", "paper"),
        help="starting settings: test (seconds), sim-cpu (2-core CPU, ~1 h), paper (published recipe); "
        "default sim-cpu",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one setting, e.g. train.steps=2000, act.hidden_dim=256, data.cameras=null (repeatable)",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument(
        "--episodes",
        default=None,
        metavar="LIST",
        help="train on these episode indices only, e.g. 0-39 or 0,2,5-9 (default: every complete episode)",
    )
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (metrics.jsonl is still written)"
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from policies import make_config, train
    from policies.store_view import open_store

    main_process = int(os.environ.get("RANK", "0")) == 0
    console = Console(highlight=False)
    config = make_config(args.policy, args.preset, args.overrides)
    if not args.dataset.exists():
        raise RobotStackError(
            f"there is no dataset at {args.dataset}",
            hint="record one with `robot-stack record`, or check the path",
        )
    data = open_store(args.dataset, episodes=parse_indices(args.episodes))
    if main_process:
        console.print(
            f"training [bold]{args.policy}[/] ({args.preset} preset) on {len(data.episodes)} episodes "
            f"of {args.dataset} → {args.out}" + ("  (resuming)" if args.resume else "")
        )
    result = train(
        config, data, args.out, resume=args.resume, show_progress=not args.no_progress and main_process
    )
    if main_process:
        best = "—" if result.best_loss is None else f"{result.best_loss:.4f}"
        # eval takes the checkpoint's own task when its episodes name one simulated task
        task_option = "" if len(data.tasks()) == 1 else " --task TASK"
        console.print(
            f"{result.stopped} at step {result.step}; best validation loss {best}\n"
            f"  checkpoints: {args.out / 'best'} (deploy / eval), {args.out / 'last'} (--resume)\n"
            f"  metrics:     {args.out / 'metrics.jsonl'}\n"
            f"  next:        robot-stack eval --checkpoint {args.out}{task_option} --episodes 50"
        )
    return 0


def parse_indices(text: str | None) -> list[int] | None:
    """'0-3,7' → [0, 1, 2, 3, 7]; None stays None (every episode)."""
    if text is None:
        return None
    out: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            first, sep, last = part.partition("-")
            lo, hi = int(first), int(last) if sep else int(first)
            if hi < lo or lo < 0:
                raise ValueError
            out.extend(range(lo, hi + 1))
    except ValueError:
        raise RobotStackError(
            f"--episodes '{text}' is not a list of indices", hint="write e.g. 0-39 or 0,2,5-9"
        ) from None
    if not out:
        raise RobotStackError("--episodes names no episode", hint="write e.g. 0-39 or 0,2,5-9")
    return out
