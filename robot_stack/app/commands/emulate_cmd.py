"""`robot-stack emulate`: serve an emulated Dynamixel chain on a pseudo-terminal until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live

from drivers.dynamixel.emulator import DynamixelChainEmulator, EmulatedMotorConfig
from robot_stack.app.signals import stop_on_signals
from robot_stack.errors import RobotStackError
from robot_stack.rig import load_rig
from robot_stack.rig.motor_catalog import BAUD_RATES, MOTOR_MODELS

EXAMPLES = """\
examples:
  robot-stack emulate --port /tmp/ttyDXL0 --motors 1:xm430-w350,2:xl430-w250
  robot-stack emulate --port /tmp/ttyDXL0 --motors 1:xm430-w350 --baud 57600 --wire-timing
  robot-stack --rig hardware.yaml emulate --arm left_follower      one arm of the rig, on its port
  robot-stack emulate --port /tmp/ttyDXL0 --motors 1:xl330-m288,2:xl330-m288 --drop-rate 0.02 --silent 2

Open the printed port with dynamixel_sdk.PortHandler (or any robot-stack command whose rig names
that port) exactly as a U2D2 adapter. Stop with Ctrl-C; the port link is removed on exit.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "emulate",
        help="serve an emulated Dynamixel chain on a pseudo-terminal",
        description="Emulate a chain of Dynamixel X-series motors speaking Protocol 2.0 on a "
        "pseudo-terminal, so drivers and tools run without hardware.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--motors", metavar="ID:MODEL,...", help="motors on the chain, e.g. 1:xm430-w350,2:xl430-w250"
    )
    source.add_argument("--arm", metavar="NAME", help="emulate this arm of the rig file given by --rig")
    parser.add_argument(
        "--port", metavar="PATH", help="symlink to create for the port (default with --arm: the arm's port)"
    )
    parser.add_argument(
        "--baud", type=int, metavar="BPS", help="motors' baud rate (default 1000000, or the arm's)"
    )
    parser.add_argument(
        "--wire-timing", action="store_true", help="delay replies as a real bus at this baud rate would"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the fault injection (default 0)")
    parser.add_argument("--drop-rate", type=float, default=0.0, metavar="P", help="fraction of replies lost")
    parser.add_argument(
        "--corrupt-rate", type=float, default=0.0, metavar="P", help="fraction of replies with a bad CRC"
    )
    parser.add_argument("--silent", metavar="ID,...", default="", help="motor ids that never answer")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, metavar="MS", help="extra delay before every reply"
    )
    parser.set_defaults(func=run)


def parse_motors(spec: str, baud: int) -> list[EmulatedMotorConfig]:
    motors = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        motor_id, _, model = item.partition(":")
        if not motor_id.isdigit() or not model:
            raise RobotStackError(
                f"--motors: '{item}' is not ID:MODEL", hint="e.g. --motors 1:xm430-w350,2:xl430-w250"
            )
        if model.lower() not in MOTOR_MODELS:
            raise RobotStackError(
                f"--motors: unknown model '{model}' for id {motor_id}",
                hint=f"use one of: {', '.join(sorted(MOTOR_MODELS))}",
            )
        if not 0 <= int(motor_id) <= 252:
            raise RobotStackError(
                f"--motors: id {motor_id} is outside 0..252", hint="Dynamixel ids are 0..252"
            )
        motors.append(EmulatedMotorConfig(int(motor_id), model.lower(), baud_rate=baud))
    if not motors:
        raise RobotStackError("--motors names no motors", hint="e.g. --motors 1:xm430-w350,2:xl430-w250")
    ids = [m.id for m in motors]
    if len(set(ids)) != len(ids):
        raise RobotStackError(
            f"--motors: an id appears twice ({spec})", hint="give every motor on a chain its own id"
        )
    return motors


def arm_motors(args: argparse.Namespace) -> tuple[list[EmulatedMotorConfig], str, int]:
    rig = load_rig(args.rig)
    if args.arm not in rig.arms:
        raise RobotStackError(
            f"{args.rig} has no arm '{args.arm}'", hint=f"arms in that file: {', '.join(rig.arms)}"
        )
    arm = rig.arms[args.arm]
    baud = args.baud or arm.baud_rate
    motors = []
    for spec in arm.motors.values():
        motors.append(EmulatedMotorConfig(spec.id, spec.model, baud_rate=baud))
        if spec.shadow is not None:
            motors.append(EmulatedMotorConfig(spec.shadow.id, spec.model, baud_rate=baud))
    return motors, args.port or arm.port, baud


def run(args: argparse.Namespace) -> int:
    if args.arm:
        motors, port, baud = arm_motors(args)
    else:
        baud = args.baud or 1_000_000
        if not args.port:
            raise RobotStackError("--port is required with --motors", hint="e.g. --port /tmp/ttyDXL0")
        motors, port = parse_motors(args.motors, baud), args.port
    if baud not in BAUD_RATES:
        raise RobotStackError(
            f"--baud {baud} is not an X-series baud rate",
            hint=f"use one of: {', '.join(map(str, BAUD_RATES))}",
        )
    for name in ("drop_rate", "corrupt_rate"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise RobotStackError(f"--{name.replace('_', '-')} must be between 0 and 1")
    try:
        silent = {int(s) for s in args.silent.split(",") if s.strip()}
        emu = DynamixelChainEmulator(
            motors, baud_rate=baud, wire_timing=args.wire_timing, link_path=Path(port), seed=args.seed
        )
    except ValueError as exc:
        raise RobotStackError(f"cannot build the emulated chain: {exc}") from None
    emu.faults.drop_rate, emu.faults.corrupt_rate = args.drop_rate, args.corrupt_rate
    emu.faults.silent_ids |= silent
    emu.faults.extra_latency_s = args.latency_ms / 1000.0
    try:
        emu.start()
    except OSError as exc:
        raise RobotStackError(
            f"cannot create the port link {port}: {exc}",
            hint="pick another --port path, or remove what is there",
        ) from None
    return _serve(emu, motors, baud)


def _serve(emu: DynamixelChainEmulator, motors: list[EmulatedMotorConfig], baud: int) -> int:
    stop = threading.Event()
    console = Console(highlight=False)
    ids = ", ".join(f"{m.id}:{m.model}" for m in motors)
    console.print(
        f"emulating [bold]{len(motors)}[/] motors ({ids}) at {baud} baud"
        f"{' with wire timing' if emu.wire_timing else ''}"
    )
    console.print(f"port: [bold]{emu.port_path}[/]  (pty {emu.pty_path})")
    try:
        with (
            stop_on_signals(stop, (signal.SIGTERM,)),
            Live(_status_line(emu), console=console, refresh_per_second=4, transient=True) as live,
        ):
            while not stop.wait(0.25):
                live.update(_status_line(emu))
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    s = emu.stats
    console.print(f"stopped: {s.packets_in} packets in, {s.replies_out} replies out")
    return 0


def _status_line(emu: DynamixelChainEmulator) -> str:
    s, f = emu.stats, emu.faults
    return (
        f"{time.strftime('%H:%M:%S')}  packets in {s.packets_in}  bad crc {s.bad_crc_in}  "
        f"replies {s.replies_out}  dropped {f.dropped}  corrupted {f.corrupted}  "
        f"bytes in/out {s.bytes_in}/{s.bytes_out}"
    )
