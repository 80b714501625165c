"""`robot-stack sim`: run the simulated rig so every other command can connect to it."""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import threading
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from robot_stack.app.signals import stop_on_signals
from robot_stack.errors import RobotStackError
from robot_stack.rig import load_rig

EXAMPLES = """\
examples:
  robot-stack sim                                  serve ./hardware.yaml's arms on their ports
  robot-stack sim --task insertion --seed 7        another task and layout
  robot-stack sim --no-operator                    leaders stay still until you move them (or a takeover)
  robot-stack sim --wire-timing                    replies take as long as on a real 1 Mbps bus

Then, in another terminal:  robot-stack motors scan --arm left_follower
Control it from code with drivers.sim.control.SimControlClient (reset / status / operator).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sim",
        help="run the simulated rig (servo chains on the rig's ports, physics, scripted operator)",
        description="Run the simulated rig described by the rig file: each arm's motors answer on the "
        "port the file names, through the same Dynamixel protocol as hardware.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--task", help="transfer_cube, transfer_cube_rotated or insertion (default: the rig file's sim.task)"
    )
    p.add_argument("--seed", type=int, help="object layout seed (default: the rig file's sim.seed)")
    p.add_argument("--no-operator", action="store_true", help="do not move the leaders by script")
    p.add_argument("--wire-timing", action="store_true", help="model bus wire time and return delay")
    p.add_argument(
        "--control",
        default=None,
        metavar="ENDPOINT",
        help="ZMQ endpoint of the control socket (default ipc:///tmp/robot_stack/sim-control.sock)",
    )
    p.add_argument(
        "--camera-endpoint",
        default=None,
        metavar="ENDPOINT",
        help="ZMQ endpoint the cameras publish on (default ipc:///tmp/robot_stack/sim-cameras.sock)",
    )
    p.add_argument(
        "--camera-drop-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="lose this fraction of rendered frames, as a flaky USB link would (default 0)",
    )
    p.add_argument("--no-cameras", action="store_true", help="do not render the rig file's sim cameras")
    p.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until Ctrl-C)")
    p.set_defaults(func=_run)


SHUTDOWN_GRACE_S = 10.0


def _panel(sim, server, cameras) -> Table:
    status = sim.status()
    table = Table(title=f"sim rig — {sim.rig.name}", title_justify="left")
    table.add_column("")
    table.add_column("")
    table.add_row("task / seed", f"{status['task']} / {status['seed']}")
    table.add_row("sim time", f"{status['sim_time']:.2f} s")
    table.add_row("success", "[green]yes[/]" if status["success"] else "not yet")
    table.add_row("operator", "scripted" if status["operator"] else "off")
    for name, chain in sim.chains.items():
        table.add_row(name, f"{chain.port_path}  packets {chain.stats.packets_in}")
    table.add_row("control", f"{server.endpoint}  requests {server.requests}, refused {server.malformed}")
    if cameras is not None:
        for name in cameras.cameras:
            table.add_row(
                name,
                f"rendered {cameras.rendered[name]}, skipped {cameras.skipped[name]}, "
                f"{cameras.render_ms[name]:.1f} ms/frame",
            )
    return table


def _run(args: argparse.Namespace) -> int:
    from drivers.sim.camera_server import SimCameraServer
    from drivers.sim.camera_wire import DEFAULT_CAMERA_ENDPOINT
    from drivers.sim.control import DEFAULT_ENDPOINT, SimControlServer
    from drivers.sim.rig import SimRig

    if not 0.0 <= args.camera_drop_rate < 1.0:
        raise RobotStackError(
            f"--camera-drop-rate {args.camera_drop_rate} is not a fraction", hint="use a value in [0, 1)"
        )
    rig = load_rig(args.rig)
    stop = threading.Event()
    sim = SimRig(
        rig,
        task=args.task,
        seed=args.seed,
        realtime=True,
        wire_timing=args.wire_timing,
        operator=not args.no_operator,
    )
    with contextlib.ExitStack() as stack:
        stack.enter_context(stop_on_signals(stop))
        stack.enter_context(sim)
        server = stack.enter_context(SimControlServer(sim, args.control or DEFAULT_ENDPOINT))
        camera_endpoint = args.camera_endpoint or DEFAULT_CAMERA_ENDPOINT
        cameras = (
            None
            if args.no_cameras
            else stack.enter_context(
                SimCameraServer(sim, rig.cameras, camera_endpoint, drop_rate=args.camera_drop_rate)
            )
        )
        started = time.monotonic()
        with Live(
            get_renderable=lambda: _panel(sim, server, cameras), refresh_per_second=4, console=Console()
        ):
            while not stop.wait(0.1):
                if args.seconds is not None and time.monotonic() - started >= args.seconds:
                    break
        # A shutdown that hangs (a thread stuck in the renderer or on a port) must not keep the
        # ports: after the grace time, print every thread's stack and exit. The port locks die with us.
        faulthandler.dump_traceback_later(SHUTDOWN_GRACE_S, exit=True)
    faulthandler.cancel_dump_traceback_later()
    return 0
