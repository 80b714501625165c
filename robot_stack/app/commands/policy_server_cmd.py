"""`robot-stack policy-server`: the planner on its own (GPU) host, answering robots over ZMQ."""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from robot_stack.app.signals import stop_on_signals
from robot_stack.errors import RobotStackError

EXAMPLES = """\
examples:
  robot-stack policy-server --checkpoint runs/act --bind tcp://0.0.0.0:5555 --keys ~/.robot_stack/keys --device cuda
  robot-stack policy-server --checkpoint runs/dp --bind tcp://0.0.0.0:5555 --keys KEYS --mode rtc
  robot-stack policy-server --checkpoint runs/act --bind ipc:///tmp/robot_stack/plan.sock
  robot-stack policy-server --checkpoint runs/act --bind tcp://127.0.0.1:5555 --added-latency-ms 300

A non-loopback --bind needs Curve keys (robot-stack keys generate); clients without an authorised key
are refused. On the robot, point the daemon's plan endpoint at this address.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "policy-server",
        help="run the planner (policy inference) for a robot on another machine",
        description="Load a checkpoint and answer observations from a robot's executor with action "
        "chunks stamped with each observation's capture time. Keeps only the newest observation "
        "waiting; bad messages are counted and dropped.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", type=Path, required=True, metavar="PATH", help="run or checkpoint folder")
    p.add_argument(
        "--bind", required=True, metavar="ENDPOINT", help="tcp://HOST:PORT or ipc://PATH to listen on"
    )
    p.add_argument(
        "--keys",
        type=Path,
        metavar="DIR",
        help="Curve keys directory (default: the rig file's deploy.curve_keys_dir, if the rig file exists)",
    )
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1; default cpu)")
    p.add_argument("--mode", default="ensemble", choices=["ensemble", "latest", "rtc"], help="planning mode")
    p.add_argument("--steps", type=int, help="DDIM / Euler steps (diffusion and flow; default: as trained)")
    p.add_argument(
        "--added-latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="hold every chunk back this long (latency-robustness benchmarks; default 0)",
    )
    p.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    p.add_argument("--quiet", action="store_true", help="no live panel")
    p.set_defaults(func=_run)


def _keys_dir(args: argparse.Namespace) -> Path | None:
    if args.keys is not None:
        return args.keys
    if args.rig is not None and Path(args.rig).exists():
        from robot_stack.rig import load_rig

        keys = load_rig(args.rig).deploy.curve_keys_dir
        return Path(keys) if keys else None
    return None


def _panel(planner, endpoint: str) -> Table:
    stats = planner.stats()
    link = stats["link"]
    table = Table(title=f"policy server — {endpoint}", title_justify="left")
    table.add_column("")
    table.add_column("")
    table.add_row("mode / curve", f"{stats['mode']} / {'on' if link['curve'] else 'off'}")
    table.add_row("chunks sent", str(stats["planned"]))
    latency = stats["latency_ms"]
    if latency:
        table.add_row(
            "latency ms", f"p50 {latency['p50']:.1f}  p99 {latency['p99']:.1f}  max {latency['max']:.1f}"
        )
    table.add_row("superseded", str(link["superseded"]))
    table.add_row(
        "dropped", ", ".join(f"{k} {v}" for k, v in {**link["dropped"], **stats["dropped"]}.items()) or "0"
    )
    table.add_row("refused clients", str(link["refused_handshakes"]))
    if stats["last_error"]:
        table.add_row("last error", f"[red]{stats['last_error']}[/]")
    return table


def _run(args: argparse.Namespace) -> int:
    from deploy.planner import Planner
    from deploy.transport import PlannerLink
    from policies import Policy

    if args.added_latency_ms < 0:
        raise RobotStackError(f"--added-latency-ms {args.added_latency_ms} is negative", hint="use 0 or more")
    keys = _keys_dir(args)
    link = PlannerLink(args.bind, keys_dir=keys)  # refuses a network endpoint without keys, before loading
    policy = Policy.load(args.checkpoint, device=args.device, steps=args.steps)
    link.state_dim, link.cameras = policy.spec.state_dim, list(policy.spec.cameras)
    console = Console(stderr=True, highlight=False)
    console.print(f"{policy.kind} from {args.checkpoint}: warm-up {policy.warmup() * 1000:.1f} ms per chunk")
    stop = threading.Event()
    with stop_on_signals(stop):
        planner = Planner(
            policy,
            link,
            mode=args.mode,
            policy_id=Path(args.checkpoint).name,
            added_latency_s=args.added_latency_ms / 1000,
        )
        started = time.monotonic()
        with planner:
            console.print(f"listening on {args.bind} (curve {'on' if link.channel.curve else 'off'})")

            def wait() -> None:
                while not stop.wait(0.1):
                    if args.seconds is not None and time.monotonic() - started >= args.seconds:
                        break

            if args.quiet:
                wait()
            else:
                with Live(
                    get_renderable=lambda: _panel(planner, args.bind), refresh_per_second=4, console=console
                ):
                    wait()
        stats = planner.stats()
        console.print(f"stopped: {stats['planned']} chunks sent, dropped {stats['dropped'] or 0}")
    return 0
