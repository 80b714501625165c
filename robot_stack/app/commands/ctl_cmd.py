"""`robot-stack ctl`: talk to a running `robot-stack deploy` (command socket, telemetry)."""

from __future__ import annotations

import argparse
import json
import time
from collections import deque
from pathlib import Path

from rich.console import Console

from robot_stack.errors import RobotStackError
from robot_stack.rig import load_rig

EXAMPLES = """\
examples:
  robot-stack ctl status            phase, loop timing, planner latency, safety counters
  robot-stack ctl status --json     the same as JSON (scripts)
  robot-stack ctl start             the policy drives (ramp-in from the current pose)
  robot-stack ctl stop              park at the rest pose and wait (start drives again)
  robot-stack ctl estop             park now, apply the torque policy, the daemon exits
  robot-stack ctl takeover          the leaders go limp and drive the followers (HG-DAgger)
  robot-stack ctl release           the policy drives again from the current pose
  robot-stack ctl watch             live panel of the daemon's telemetry (Ctrl-C to leave)

Endpoints come from the rig file (deploy.command_endpoint, deploy.telemetry_endpoint). A foot pedal
or a key can run `robot-stack ctl takeover` / `release`.
"""

ACTIONS = ("status", "start", "stop", "estop", "takeover", "release", "watch")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ctl",
        help="control and watch a running deploy daemon",
        description="Send a command to the deploy daemon's command socket, or watch its telemetry.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=ACTIONS, help="what to do")
    p.add_argument("--endpoint", metavar="ENDPOINT", help="command endpoint (default: the rig file's)")
    p.add_argument(
        "--telemetry", metavar="ENDPOINT", help="telemetry endpoint for watch (default: the rig file's)"
    )
    p.add_argument(
        "--keys", type=Path, metavar="DIR", help="Curve keys for tcp endpoints (default: the rig file's)"
    )
    p.add_argument("--timeout", type=float, default=3.0, metavar="S", help="reply timeout (default 3 s)")
    p.add_argument("--json", action="store_true", help="status: print the reply as JSON")
    p.add_argument("--seconds", type=float, help="watch: leave after this long")
    p.set_defaults(func=_run)


def _keys(args, rig) -> Path | None:
    if args.keys is not None:
        return args.keys
    return Path(rig.deploy.curve_keys_dir).expanduser() if rig.deploy.curve_keys_dir else None


def _run(args: argparse.Namespace) -> int:
    rig = load_rig(args.rig)
    console = Console(highlight=False)
    if args.action == "watch":
        return _watch(args, rig, console)
    from deploy.transport import request
    from robot_stack.wire import Command

    endpoint = args.endpoint or rig.deploy.command_endpoint
    reply = request(endpoint, Command(args.action), args.timeout, keys_dir=_keys(args, rig))
    if not reply.ok:
        raise RobotStackError(f"the daemon refused {args.action!r}: {reply.error}")
    if args.action == "status":
        if args.json:
            print(json.dumps(reply.data, indent=2))
        else:
            from robot_stack.app.deploy_panel import deploy_panel

            console.print(deploy_panel(reply.data))
            daemon = reply.data.get("daemon") or {}
            console.print(
                f"[dim]policy {daemon.get('policy')} ({daemon.get('checkpoint')}), planner {daemon.get('planner')}[/]"
            )
    else:
        console.print(f"{args.action}: ok — phase {reply.data.get('phase', '?')}")
    return 0


def _watch(args, rig, console: Console) -> int:
    import zmq
    from rich.live import Live

    from deploy.transport import Channel
    from robot_stack.app.deploy_panel import deploy_panel
    from robot_stack.wire import Event, Telemetry, decode_message

    endpoint = args.telemetry or rig.deploy.telemetry_endpoint
    latest: dict = {}
    events: deque[dict] = deque(maxlen=50)
    received = 0

    def decoder(frames):
        return decode_message(frames)

    def panel():
        if not latest:
            return f"waiting for telemetry on {endpoint} … (is `robot-stack deploy` running?)"
        return deploy_panel(latest, events, title=f"deploy @ {endpoint}")

    started = time.monotonic()
    with Channel(zmq.SUB, endpoint, bind=False, keys_dir=_keys(args, rig)) as channel:
        with Live(get_renderable=panel, console=console, refresh_per_second=4):
            try:
                while args.seconds is None or time.monotonic() - started < args.seconds:
                    got = channel.recv(decoder, 0.1)
                    if got is None:
                        continue
                    message = got[1]
                    received += 1
                    if isinstance(message, Telemetry):
                        latest = message.data
                    elif isinstance(message, Event):
                        events.append(
                            {
                                "t": message.t,
                                "name": message.name,
                                "severity": message.severity,
                                "detail": message.detail,
                            }
                        )
            except KeyboardInterrupt:
                pass
    console.print(f"watched {received} message(s) from {endpoint}")
    return 0
