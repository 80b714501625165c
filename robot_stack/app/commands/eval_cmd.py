"""`robot-stack eval`: a trained policy's success rate on the simulated rig, in lockstep time."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from robot_stack.errors import RobotStackError
from robot_stack.rig import load_rig

EXAMPLES = """\
examples:
  robot-stack eval --checkpoint runs/act --task transfer_cube --episodes 50
        50 held-out seeds (1000-1049) of transfer_cube; results in runs/act/eval_transfer_cube/
  robot-stack eval --checkpoint runs/act --episodes 50
        the same on the task its training episodes were recorded for
  robot-stack eval --checkpoint runs/dp/last --task insertion --episodes 20 --seed-start 5000 --videos 5
        the last checkpoint, another seed range, five rollout videos (runs/dp/eval_insertion_last/)
  robot-stack eval --checkpoint runs/act --task transfer_cube --episodes 10 --replan-every 20
        ACT re-planning every 20 ticks instead of executing each 100-action chunk whole
  robot-stack eval --checkpoint runs/act --task transfer_cube --episodes 50 --ensemble 0.01
        ACT planning every tick, the overlapping chunks blended by temporal ensembling (m = 0.01)
  robot-stack eval --checkpoint runs/act --task transfer_cube --episodes 20 --ensemble 0.01 --latency-ticks 15
        the same with 300 ms of planner latency: each plan from the observation 15 ticks old

Every episode runs on the simulated rig described by --rig, through the emulated servo chains and the
Dynamixel driver, with camera frames rendered from the scene. Time is lockstep: physics waits for the
policy, so the success rate does not depend on this machine's speed. An episode succeeds when the
task's success check first holds. Output: results.json (success rate, Wilson 95 % interval, every
seed's result), episodes.jsonl, videos/seed_NNNN.mp4.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="success rate of a trained policy on a simulated task (lockstep time)",
        description="Evaluate a checkpoint on the simulated rig over consecutive seeds.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        type=Path,
        metavar="PATH",
        help="run folder (uses best/) or checkpoint folder",
    )
    p.add_argument(
        "--task",
        help="transfer_cube, transfer_cube_rotated or insertion (default: the task the checkpoint's "
        "episodes were recorded for, when that is one of these)",
    )
    p.add_argument(
        "--episodes", required=True, type=int, metavar="N", help="number of episodes (one seed each)"
    )
    p.add_argument(
        "--seed-start",
        type=int,
        default=1000,
        metavar="S",
        help="first seed (default 1000; demonstrations are recorded from lower seeds)",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="results folder (default: RUN/eval_TASK, or RUN/eval_TASK_NAME for RUN/NAME)",
    )
    p.add_argument(
        "--videos",
        type=int,
        default=3,
        metavar="K",
        help="rollout videos of the first K episodes (default 3)",
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        metavar="S",
        help="sim seconds before an episode counts as failed (default 15)",
    )
    p.add_argument(
        "--replan-every",
        type=int,
        default=None,
        metavar="TICKS",
        help="control ticks between policy calls (default: the whole chunk)",
    )
    p.add_argument(
        "--ensemble",
        type=float,
        default=None,
        metavar="M",
        help="blend overlapping chunks with weights exp(-M·rank) as the deploy runtime does, planning "
        "every tick unless --replan-every says otherwise (default: each chunk runs open-loop)",
    )
    p.add_argument(
        "--latency-ticks",
        type=int,
        default=0,
        metavar="D",
        help="plan from the observation D control ticks old, its first D actions already past (a planner's "
        "latency in lockstep time; default 0)",
    )
    p.add_argument(
        "--image-lag-ticks",
        type=int,
        default=0,
        metavar="K",
        help="camera frames K control ticks older than the joint state planned with them (a frame still "
        "on its way when the joints are read, in real time; default 0)",
    )
    p.add_argument(
        "--steps", type=int, default=None, help="DDIM / Euler sampling steps (default: the checkpoint's)"
    )
    p.add_argument(
        "--device", default="cpu", help="torch device for the policy: cpu, cuda, cuda:1, auto (default cpu)"
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from robot_stack.app.evaluation import EvalSettings, evaluate

    if args.videos < 0:
        raise RobotStackError(f"--videos {args.videos} is negative", hint="use 0 for none")
    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    rig = load_rig(args.rig)
    args.task = task_to_evaluate(args.checkpoint, args.task, Console(stderr=True, highlight=False))
    settings = EvalSettings(
        task=args.task,
        episodes=args.episodes,
        seed_start=args.seed_start,
        max_seconds=args.max_seconds,
        replan_every=args.replan_every,
        ensemble_m=args.ensemble,
        latency_ticks=args.latency_ticks,
        image_lag_ticks=args.image_lag_ticks,
        videos=args.videos,
        device=device,
        sampler_steps=args.steps,
    )
    out = args.out or default_out(args.checkpoint, args.task)
    console = Console(highlight=False)
    progress = Progress(
        TextColumn(f"[bold]eval {args.task}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
    )
    bar = progress.add_task("eval", total=args.episodes, rate="")

    def on_episode(result, report):
        # the stages after the first (the scene as set) and before the last
        passed = [stage for _, stage in result.stages[1:-1]]
        verdict = (
            "[green]success[/]"
            if result.success
            else f"[red]failed[/] ({result.stage}" + (f"; was {', '.join(passed)})" if passed else ")")
        )
        progress.console.print(
            f"  seed {result.seed}: {verdict} after {result.sim_seconds:.2f} s sim time, "
            f"{result.plans} plans ({result.plan_ms_mean:.0f} ms each), {result.wall_s:.1f} s wall"
        )
        progress.update(
            bar,
            completed=len(report.episodes),
            rate=f"{report.successes}/{len(report.episodes)} succeeded",
        )

    def on_start(header):
        console.print(
            f"evaluating {header['policy']} (step {header['step']}, {header['checkpoint']}) on {args.task}, "
            f"seeds {header['seeds'][0]}–{header['seeds'][1]}, up to {header['max_seconds']:g} s each, "
            f"re-planning every {header['replan_every_ticks']} ticks"
            + ("" if args.ensemble is None else f", temporal ensembling m = {args.ensemble:g}")
            + (f", planning from observations {args.latency_ticks} ticks old" if args.latency_ticks else "")
            + (
                f", camera frames {args.image_lag_ticks} ticks older than the joints"
                if args.image_lag_ticks
                else ""
            )
        )
        progress.start()

    try:
        report = evaluate(args.checkpoint, rig, settings, out, on_episode=on_episode, on_start=on_start)
    finally:
        if progress.live.is_started:
            progress.stop()
    low, high = report.ci95
    console.print(
        f"[bold]{args.task}: {report.successes}/{len(report.episodes)} succeeded = "
        f"{100 * report.success_rate:.1f} %[/] (95 % CI {100 * low:.1f}–{100 * high:.1f} %, Wilson)\n"
        f"  results: {out / 'results.json'}" + (f"\n  videos:  {out / 'videos'}" if args.videos else "")
    )
    return 0


def task_to_evaluate(checkpoint: Path, asked: str | None, console: Console) -> str:
    """`asked`, with a warning when the checkpoint was trained on other tasks' episodes; without one,
    the checkpoint's own task if it is a simulated task."""
    from drivers.sim.tasks import TASKS, single_task_named
    from policies.checkpoint import load_checkpoint

    trained = load_checkpoint(checkpoint).trained_on.get("tasks", [])
    if asked is None:
        own = single_task_named(trained)
        if own is None:
            said = f"episodes of {', '.join(trained)}" if trained else "episodes that name no task"
            raise RobotStackError(
                f"which task to evaluate? {checkpoint} was trained on {said}",
                hint=f"say it with --task ({', '.join(sorted(TASKS))})",
            )
        return own
    if trained and asked not in trained:
        console.print(
            f"[yellow]warning:[/] {checkpoint} was trained on episodes of {', '.join(trained)}, "
            f"not {asked}: expect it to fail there",
            soft_wrap=True,
        )
    return asked


def default_out(checkpoint: Path, task: str) -> Path:
    """RUN/eval_TASK for a run folder; RUN/eval_TASK_NAME for one of its checkpoint folders (never
    inside a checkpoint folder, which training replaces whole when it saves)."""
    if (checkpoint / "policy.json").exists():
        return checkpoint.parent / f"eval_{task}_{checkpoint.name}"
    return checkpoint / f"eval_{task}"
