"""`robot-stack motors ...`: the tool for assembling an arm — find motors, read them, give each its
id and baud rate, reboot a faulted one, and name the USB adapters with a udev rule."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.prompt import Confirm
from rich.table import Table

from drivers.dynamixel import udev
from drivers.dynamixel.bus import DynamixelBus, MotorInfo
from drivers.dynamixel.control_table import decode_hardware_error
from drivers.dynamixel.errors import format_baud
from drivers.dynamixel.port import SDK_BAUD_RATES
from drivers.dynamixel.units import to_units, unit_of
from robot_stack.errors import RobotStackError
from robot_stack.rig import load_rig
from robot_stack.rig.motor_catalog import BAUD_RATES
from robot_stack.rig.schema import ArmSpec

EXAMPLES = """\
examples:
  robot-stack motors scan --port /dev/ttyUSB0                 ids, models, firmware at 1 Mbps
  robot-stack motors scan --port /dev/ttyUSB0 --all-bauds     try every baud rate (a new motor is id 1 at 57600)
  robot-stack motors scan --arm left_follower                 the rig's port and baud; marks expected motors
  robot-stack motors read --port /dev/ttyUSB0 --id 4          every register of motor 4
  robot-stack motors set-id --port /dev/ttyUSB0 --baud 57600 --id 1 --new-id 4
  robot-stack motors set-baud --port /dev/ttyUSB0 --baud 57600 --id 4 --new-baud 1000000
  robot-stack motors reboot --arm left_follower --id 4        clear a hardware error (overload, ...)
  robot-stack motors udev --arm left_follower --serial FT6S4DSP   udev rule: stable name, 1 ms latency
  robot-stack motors udev --list                              USB serial adapters attached now

Assembling an arm: connect one new motor at a time, `set-id` it to its joint's id (rig file), then
`set-baud` it to the rig's baud rate; `scan --arm NAME` at the end shows every joint found.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    motors = subparsers.add_parser(
        "motors",
        help="scan, read, configure and reboot Dynamixel motors; udev rules for adapters",
        description="Find and configure Dynamixel motors on a serial port (for assembling an arm).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = motors.add_subparsers(dest="motors_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str, func) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        p.set_defaults(func=func)
        return p

    def where(p: argparse.ArgumentParser, need_id: bool) -> None:
        src = p.add_mutually_exclusive_group(required=True)
        src.add_argument("--port", metavar="PATH", help="serial port, e.g. /dev/ttyUSB0")
        src.add_argument(
            "--arm", metavar="NAME", help="take port and baud rate from this arm of the rig file (--rig)"
        )
        p.add_argument("--baud", type=int, metavar="BPS", help="baud rate (default: the arm's, else 1000000)")
        if need_id:
            p.add_argument("--id", type=int, required=True, metavar="N", help="motor id")

    scan = action("scan", "list the motors answering on a port", _scan)
    where(scan, need_id=False)
    scan.add_argument("--all-bauds", action="store_true", help="scan at every X-series baud rate")
    scan.add_argument(
        "--ids", metavar="A-B", help="ping only these ids, e.g. 1-20 (default: broadcast ping, all ids)"
    )

    read = action("read", "show every register of one motor", _read)
    where(read, need_id=True)

    set_id = action("set-id", "give a motor a new id (EEPROM; torque goes off)", _set_id)
    where(set_id, need_id=True)
    set_id.add_argument("--new-id", type=int, required=True, metavar="M")
    set_id.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    set_baud = action("set-baud", "change a motor's baud rate (EEPROM; torque goes off)", _set_baud)
    where(set_baud, need_id=True)
    set_baud.add_argument("--new-baud", type=int, required=True, metavar="BPS", choices=BAUD_RATES)
    set_baud.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    reboot = action("reboot", "reboot a motor (clears hardware errors; torque comes back off)", _reboot)
    where(reboot, need_id=True)

    rule = action(
        "udev", "print udev rules: a stable /dev name and 1 ms latency timer per arm adapter", _udev
    )
    rule.add_argument("--arm", metavar="NAME", help="only this arm (default: every arm of the rig file)")
    rule.add_argument("--serial", action="append", default=[], metavar="SERIAL|ARM=SERIAL",
                      help="FTDI serial of the arm's adapter (repeat as ARM=SERIAL for several arms)")  # fmt: skip
    rule.add_argument(
        "--out", type=Path, metavar="FILE", help="write the rules to FILE instead of printing them"
    )
    rule.add_argument("--list", action="store_true", help="list the USB serial adapters attached now")


# -- helpers ------------------------------------------------------------------------------------------
def _arm(args: argparse.Namespace) -> tuple[str, ArmSpec] | None:
    if not getattr(args, "arm", None):
        return None
    rig = load_rig(args.rig)
    if args.arm not in rig.arms:
        raise RobotStackError(
            f"no arm '{args.arm}' in {args.rig}", f"arms in this rig file: {', '.join(rig.arms)}"
        )
    return args.arm, rig.arms[args.arm]


def _bus(args: argparse.Namespace, baud: int | None = None) -> DynamixelBus:
    arm = _arm(args)
    port = arm[1].port if arm else args.port
    rate = baud or args.baud or (arm[1].baud_rate if arm else 1_000_000)
    return DynamixelBus(port, rate, arm=arm[0] if arm else None)


def _expected_joints(args: argparse.Namespace) -> dict[int, str]:
    arm = _arm(args)
    if not arm:
        return {}
    joints = {}
    for joint, motor in arm[1].motors.items():
        joints[motor.id] = joint
        if motor.shadow is not None:
            joints[motor.shadow.id] = f"{joint} (shadow)"
    return joints


def _id_range(text: str) -> range:
    first, _, last = text.partition("-")
    try:
        lo, hi = int(first), int(last or first)
    except ValueError:
        raise RobotStackError(f"--ids {text}: expected A-B, e.g. 1-20", None) from None
    if not 0 <= lo <= hi <= 252:
        raise RobotStackError(f"--ids {text}: ids run from 0 to 252", None)
    return range(lo, hi + 1)


def _confirm(args: argparse.Namespace, question: str) -> bool:
    if args.yes:
        return True
    try:
        return Confirm.ask(question, default=False)
    except EOFError:
        return False


# -- actions --------------------------------------------------------------------------------------------
def _scan(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    expected = _expected_joints(args)
    with _bus(args) as bus:
        # 4.5 Mbps is an X-series rate the SDK cannot set on the port.
        rates = (
            sorted((b for b in BAUD_RATES if b in SDK_BAUD_RATES), reverse=True)
            if args.all_bauds
            else [bus.baud_rate]
        )
        ids = _id_range(args.ids) if args.ids else None
        found: list[tuple[int, MotorInfo]] = []
        with console.status("") as status:
            for rate in rates:
                status.update(f"scanning {bus.port_name} at {format_baud(rate)} ...")
                if rate != bus.baud_rate:
                    bus.set_baud_rate(rate)
                found += [(rate, info) for info in bus.scan(ids)]
    table = Table(title=f"motors on {bus.port_name}")
    for column in ("baud", "id", "model", "model no.", "firmware") + (("joint",) if expected else ()):
        table.add_column(column)
    for rate, info in found:
        row = [
            format_baud(rate),
            str(info.id),
            info.model or "unknown",
            str(info.model_number),
            str(info.firmware),
        ]
        table.add_row(*row, *([expected.get(info.id, "[yellow]not in rig file[/]")] if expected else []))
    console.print(table)
    seen = {info.id for _, info in found}
    missing = [f"{joint} (id {i})" for i, joint in expected.items() if i not in seen]
    if missing:
        console.print(f"[yellow]not found:[/] {', '.join(missing)}")
    if not found:
        console.print(
            "no motor answered; check power and cable, try --all-bauds (a new motor is id 1 at 57.6 kbps)"
        )
    return 0 if found and not missing else 1


def _read(args: argparse.Namespace) -> int:
    with _bus(args) as bus:
        table = bus.table(args.id)
        values = bus.read_table(args.id)
    out = Table(title=f"{bus.label(args.id)}: {table.model.name} on {bus.port_name}")
    for column in ("register", "addr", "size", "access", "raw", "value"):
        out.add_column(column, justify="right" if column in ("addr", "size", "raw", "value") else "left")
    for name, reg in sorted(table.registers.items(), key=lambda item: item[1].address):
        raw = values[name]
        unit = unit_of(table, name)
        if name == "hardware_error_status":
            shown = ", ".join(decode_hardware_error(raw)) or "none"
        elif name == "baud_rate":
            shown = format_baud(to_units(table, name, raw))
        elif unit is not None:
            shown = f"{to_units(table, name, raw):.4g} {unit[1]}"
        else:
            shown = ""
        access = ("RW" if reg.writable else "R") + (" EEPROM" if reg.eeprom else "")
        out.add_row(name, str(reg.address), str(reg.size), access, str(raw), shown)
    Console(highlight=False).print(out)
    return 0


def _set_id(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    if not 0 <= args.new_id <= 252:
        raise RobotStackError(f"--new-id {args.new_id} is outside 0..252", "pick an id from the rig file")
    with _bus(args) as bus:
        info = bus.ping(args.id)
        taken = bus.try_ping(args.new_id)
        if taken is not None and args.new_id != args.id:
            raise RobotStackError(
                f"id {args.new_id} is already used on {bus.port_name} by a {taken.model or taken.model_number}",
                "two motors with one id corrupt each other's replies: choose a free id, or connect the "
                "new motor on its own",
            )
        if not _confirm(args, f"set motor {args.id} ({info.model}) on {bus.port_name} to id {args.new_id}?"):
            console.print("nothing changed")
            return 1
        bus.write(args.id, "torque_enable", 0)
        bus.write(args.id, "id", args.new_id)
        bus.ping(args.new_id)
    console.print(f"[green]motor {args.id} is now id {args.new_id}[/] ({info.model} on {bus.port_name})")
    return 0


def _set_baud(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    with _bus(args) as bus:
        info = bus.ping(args.id)
        table = bus.table(args.id)
        if args.new_baud > table.model.max_baud_rate:
            raise RobotStackError(
                f"{table.model.name} cannot run at {format_baud(args.new_baud)}",
                f"its maximum is {format_baud(table.model.max_baud_rate)}",
            )
        question = (
            f"set motor {args.id} ({info.model}) on {bus.port_name} from {format_baud(bus.baud_rate)} "
            f"to {format_baud(args.new_baud)}?"
        )
        if not _confirm(args, question):
            console.print("nothing changed")
            return 1
        bus.write(args.id, "torque_enable", 0)
        bus.write(args.id, "baud_rate", args.new_baud, units=True)
        bus.set_baud_rate(args.new_baud)
        bus.ping(args.id)  # answers at the new rate: the change took
    console.print(f"[green]motor {args.id} now talks at {format_baud(args.new_baud)}[/] on {bus.port_name}")
    return 0


def _reboot(args: argparse.Namespace) -> int:
    with _bus(args) as bus:
        before = bus.read(args.id, "hardware_error_status")
        bus.reboot(args.id, settle_s=1.0)
    cleared = ", ".join(decode_hardware_error(before)) or "no hardware error"
    Console(highlight=False).print(
        f"[green]rebooted {bus.label(args.id)}[/] on {bus.port_name} (was: {cleared})"
    )
    return 0


def _udev(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    if args.list:
        adapters = udev.list_adapters()
        table = Table(title="USB serial adapters")
        for column in ("device", "vendor:product", "serial", "product", "latency timer"):
            table.add_column(column)
        for a in adapters:
            latency = f"{a.latency_timer_ms} ms" if a.latency_timer_ms is not None else "-"
            table.add_row(
                a.device, f"{a.vendor_id}:{a.product_id}", a.serial or "-", a.product or "-", latency
            )
        console.print(table if adapters else "no USB serial adapters found")
        return 0
    rig = load_rig(args.rig)
    arms = {args.arm: rig.arms.get(args.arm)} if args.arm else dict(rig.arms)
    if args.arm and arms[args.arm] is None:
        raise RobotStackError(
            f"no arm '{args.arm}' in {args.rig}", f"arms in this rig file: {', '.join(rig.arms)}"
        )
    serials = _serials(args, list(arms))
    rules, missing = [], []
    for name, spec in arms.items():
        serial = serials.get(name)
        if serial is None:
            adapter = udev.describe_adapter(spec.port)  # the port exists now: read its serial
            serial = adapter.serial if adapter else None
        if serial is None:
            missing.append(name)
            continue
        rules.append(udev.udev_rule(name, serial, spec.port))
    if missing:
        raise RobotStackError(
            f"no FTDI serial known for {', '.join(missing)}",
            "pass --serial ARM=SERIAL for each; `robot-stack motors udev --list` shows the serials of "
            "the adapters attached now (plug them in one at a time to tell them apart)",
        )
    text = udev.rules_file(rules)
    if args.out:
        args.out.write_text(text)
        console.print(
            f"wrote {args.out}; install it with:\n" + udev.INSTALL_STEPS.replace("<file>", str(args.out))
        )
    else:
        print(text, end="")
        Console(stderr=True, highlight=False).print(
            "install:\n" + udev.INSTALL_STEPS.replace("<file>", "FILE")
        )
    return 0


def _serials(args: argparse.Namespace, arms: list[str]) -> dict[str, str]:
    serials: dict[str, str] = {}
    for item in args.serial:
        name, sep, serial = item.partition("=")
        if not sep:
            if len(arms) != 1:
                raise RobotStackError(
                    f"--serial {item}: which arm?",
                    "use --serial ARM=SERIAL, or --arm NAME with a bare serial",
                )
            name, serial = arms[0], item
        if name not in arms:
            raise RobotStackError(f"--serial {item}: no arm '{name}' here", f"arms: {', '.join(arms)}")
        serials[name] = serial
    return serials
