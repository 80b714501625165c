"""`robot-stack rig show|check|timing`: look at, validate, and time a rig description."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.live import Live

from robot_stack.app.rig_view import loop_stats_table, rig_tables
from robot_stack.rate_loop import RateLoop
from robot_stack.rig import RigFileError, load_rig

EXAMPLES = """\
examples:
  robot-stack rig show                        the rig in ./hardware.yaml as tables
  robot-stack --rig examples/aloha.yaml rig show
  robot-stack rig check examples/koch_bimanual.yaml   exit 0 if valid, 1 with every problem listed
  robot-stack rig timing --seconds 30         can this PC hold the rig's control rate?
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    rig = subparsers.add_parser(
        "rig",
        help="show, check or time the rig description",
        description="Show, validate and time the rig description (hardware.yaml).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = rig.add_subparsers(dest="rig_command", metavar="ACTION", required=True)

    show = sub.add_parser(
        "show",
        help="print arms, motors, pairs and cameras",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.set_defaults(func=_show)

    check = sub.add_parser(
        "check",
        help="validate a rig file (exit status 1 when invalid)",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("path", nargs="?", type=Path, help="rig file (default: the global --rig)")
    check.set_defaults(func=_check)

    timing = sub.add_parser(
        "timing",
        help="run an empty control loop at the rig's rate and report its timing",
        description="Run an empty loop at the rig's control rate on this PC and report period error, "
        "wake latency and overruns — the floor every teleop, record and deploy loop stands on.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    timing.add_argument("--seconds", type=float, default=5.0, help="how long to run (default 5)")
    timing.set_defaults(func=_timing)


def _show(args: argparse.Namespace) -> int:
    rig = load_rig(args.rig)
    Console().print(rig_tables(rig, str(args.rig)))
    return 0


def _check(args: argparse.Namespace) -> int:
    path = args.path or args.rig
    console = Console(highlight=False)
    try:
        rig = load_rig(path)
    except RigFileError as exc:
        console.print(f"[bold red]invalid[/] {exc.message}", soft_wrap=True)
        return 1
    console.print(
        f"[bold green]valid[/] {path}: rig '{rig.name}' ({rig.backend}), {len(rig.arms)} arms, "
        f"{len(rig.pairs)} pairs, {len(rig.cameras)} cameras"
    )
    return 0


def _timing(args: argparse.Namespace) -> int:
    if args.seconds <= 0:
        raise SystemExit("--seconds must be positive")
    rig = load_rig(args.rig)
    loop = RateLoop(rig.control_rate_hz, priority=rig.realtime_priority)
    title = f"{rig.name}: {rig.control_rate_hz:g} Hz loop"
    # The panel renders on rich's refresh thread, so the loop body stays empty.
    live = Live(get_renderable=lambda: loop_stats_table(loop.live_stats(), f"{title} (last minute)"))
    with live:
        stats = loop.run(lambda tick: None, duration_s=args.seconds)
        live.update(loop_stats_table(stats, f"{title}: the whole {args.seconds:g} s"), refresh=True)
    return 0
