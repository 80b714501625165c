"""`robot-stack audit`: check a whole dataset before training on it — terminal table, HTML report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from robot_stack.app.episode_select import parse_selection
from robot_stack.errors import RobotStackError

EXAMPLES = """\
examples:
  robot-stack audit --dataset demos.zarr                         table of every episode, flags in colour
  robot-stack audit --dataset demos.zarr --html audit.html       plus a static page: plots, contact sheets
  robot-stack audit --dataset demos.zarr --episodes 3-9,12       only some episodes
  robot-stack audit --dataset demos.zarr --json audit.json --fail-on error    for scripts and CI
  robot-stack audit --dataset demos.zarr --latency-out lat.json  camera latencies, for recording with them

Checks and flags are explained in docs/audit.md. Exit status: 0, or 3 when --fail-on finds flags.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "audit",
        help="check a dataset: integrity, timing, content, camera latency; table and HTML report",
        description="Read every episode of a dataset and report what is damaged (integrity), late or lost "
        "(timing), and odd (saturation, idle stretches, tracking error, outlier takes), with each "
        "camera's latency estimated from the data.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", type=Path, required=True, metavar="PATH", help="the dataset (a .zarr folder)")
    p.add_argument("--html", type=Path, metavar="OUT", help="also write a static HTML report here")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the findings as JSON here")
    p.add_argument("--episodes", metavar="LIST", help="only these episodes, e.g. 0-4,7 (default: all)")
    p.add_argument(
        "--latency-out",
        type=Path,
        metavar="OUT",
        help="write the trusted camera latency estimates as JSON {camera_latency_s: {camera: seconds}}",
    )
    p.add_argument(
        "--thumbnails",
        type=int,
        default=8,
        metavar="N",
        help="frames per camera on each contact sheet (default 8)",
    )
    p.add_argument(
        "--latency-frames",
        type=int,
        default=3000,
        metavar="N",
        help="frames per camera decoded for the latency estimate, over the whole dataset (default 3000)",
    )
    p.add_argument(
        "--fail-on",
        choices=("never", "error", "warning"),
        default="never",
        help="exit with status 3 when a flag of this severity (or worse) is found (default: never)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from robot_stack.app.audit import AuditOptions, run_audit
    from robot_stack.app.audit.report_html import write_html
    from robot_stack.app.audit.report_table import print_report

    if args.thumbnails < 0 or args.latency_frames < 0:
        raise RobotStackError("--thumbnails and --latency-frames cannot be negative", hint="use 0 or more")
    if not args.dataset.exists():
        raise RobotStackError(
            f"there is no dataset at {args.dataset}", hint="check the path (a .zarr folder)"
        )
    episodes = parse_selection(args.episodes) if args.episodes else None
    options = AuditOptions(
        html=args.html is not None,
        thumbnails=args.thumbnails,
        latency_frames=args.latency_frames,
        episodes=episodes,
    )
    console = Console()
    with Progress(
        TextColumn("auditing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("episodes"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("audit", total=None)
        report = run_audit(
            args.dataset, options, lambda done, total: progress.update(task, completed=done, total=total)
        )
    if episodes is not None and not report.episodes:
        raise RobotStackError(
            f"none of the episodes {args.episodes} are in {args.dataset}",
            hint="list them: robot-stack dataset list",
        )
    print_report(report, console)
    if args.html:
        out = write_html(report, args.html)
        console.print(f"HTML report: {out}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n")
        console.print(f"JSON findings: {args.json}")
    if args.latency_out:
        found = {
            name: round(float(est["latency_s"]), 4)
            for name, est in report.overview.get("latency", {}).items()
            if est.get("latency_s") is not None
        }
        args.latency_out.parent.mkdir(parents=True, exist_ok=True)
        args.latency_out.write_text(json.dumps({"camera_latency_s": found}, indent=2) + "\n")
        console.print(f"camera latencies ({len(found)} trusted): {args.latency_out}")
    worst = {ep.worst for ep in report.episodes} | {f.severity for f in report.dataset_flags}
    if args.fail_on == "error" and "error" in worst:
        return 3
    if args.fail_on == "warning" and worst & {"error", "warning"}:
        return 3
    return 0
