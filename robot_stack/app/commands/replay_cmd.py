"""`robot-stack replay`: send a recorded episode's actions to the followers at their recorded timing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

EXAMPLES = """\
examples:
  robot-stack replay --dataset demos.zarr --episode 3
  robot-stack replay --dataset demos.zarr --episode 3 --ramp-in 4     slower start from where the arms stand
  robot-stack replay --dataset demos.zarr --episode 3 --json out.json  the figures as JSON too

The followers ramp in from their pose to the recording's first goal, then follow the recorded goals
at their recorded timing, with the teleop loop's joint ranges, step limits and safe stop; at the end
(or on Ctrl-C) they park. On the simulated rig the episode's scene (task and seed) is restored first
and the replay says whether the task succeeds again. Tracking error is the followers' distance from
the recorded observations at the same moment of the episode.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "replay",
        help="replay a recorded episode on the followers",
        description="Send a recorded episode's actions to the followers at their recorded timing.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", required=True, metavar="PATH", help="the dataset (a .zarr folder)")
    p.add_argument("--episode", required=True, type=int, metavar="K", help="the episode's index")
    p.add_argument("--ramp-in", type=float, metavar="S", help="ramp-in time (default: rig file)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the result as JSON")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from robot_stack.app.replay.tracking import describe
    from robot_stack.app.replay.workflow import replay_episode

    console = Console(highlight=False)
    result = replay_episode(args.rig, args.dataset, args.episode, ramp_in_s=args.ramp_in, console=console)
    scene = f" ({result.task}, seed {result.seed})" if result.seed is not None else ""
    console.print(
        f"replayed episode {result.episode}{scene}: {result.recorded_s:.1f} s recorded, "
        f"{result.ticks} ticks at {result.rate_hz or float('nan'):.1f} Hz, {result.overruns} overruns"
        + ("" if result.completed else " — [yellow]stopped before the end[/]")
    )
    if result.success is not None:
        recorded = {True: "yes", False: "no", None: "not recorded"}[result.recorded_success]
        verdict = "[green]yes[/]" if result.success else "[bold red]no[/]"
        console.print(f"task succeeded on replay: {verdict} (when recorded: {recorded})")
    console.print(f"tracking vs the recorded observations: {describe(result.tracking)}")
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        console.print(f"wrote {args.json}")
    return 0
