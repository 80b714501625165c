"""`robot-stack calibrate`: the guided calibration of each arm, or all of them."""

from __future__ import annotations

import argparse
import contextlib
import math

from rich.console import Console
from rich.table import Table

from robot_stack.errors import RobotStackError
from robot_stack.rig import load_rig

EXAMPLES = """\
examples:
  robot-stack calibrate                          every arm, one after the other, with prompts
  robot-stack calibrate --arm left_leader        one arm (repeat --arm for several)
  robot-stack calibrate --auto                   simulated rig: the simulator's hand does the moves
  robot-stack calibrate --show                   print the saved calibrations, change nothing

Each arm gets a file <rig file>.calibration/<arm>.yaml beside the rig file (rig key calibration_dir
moves it). Motors get their Homing Offset and Drive Mode written, so they report the shared frame
themselves; every later connect checks the arm against its file.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="calibrate arms so leaders and followers agree on joint angles",
        description="Walk through each arm's calibration: reference poses, gripper closed/open, full "
        "range; then write each motor's offsets and the arm's calibration file.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--arm", action="append", metavar="NAME", help="calibrate only this arm (repeatable)")
    p.add_argument("--auto", action="store_true", help="simulated rig only: the simulator moves the arms")
    p.add_argument("--show", action="store_true", help="show the saved calibrations and exit")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from calibration.files import calibration_path, load_rig_calibration, save_calibration

    console = Console(highlight=False)
    rig = load_rig(args.rig)
    arms = args.arm or list(rig.arms)
    unknown = [a for a in arms if a not in rig.arms]
    if unknown:
        raise RobotStackError(
            f"no arm {', '.join(unknown)} in rig '{rig.name}'", hint=f"arms: {', '.join(rig.arms)}"
        )
    if args.show:
        for name, cal in load_rig_calibration(rig, args.rig, arms).items():
            console.print(summary_table(cal, calibration_path(rig, args.rig, name)))
        return 0
    if args.auto and rig.backend != "sim":
        raise RobotStackError(
            "--auto needs the simulated rig: on hardware a person moves the arms",
            hint="drop --auto and follow the prompts",
        )
    with contextlib.ExitStack() as stack:
        guide = _guide(rig, args, console, stack)
        for name in arms:
            cal = calibrate_one(rig, name, guide, console)
            path = save_calibration(cal, calibration_path(rig, args.rig, name))
            console.print(summary_table(cal, path))
            for note in cal.notes:
                console.print(f"[yellow]warning:[/] {note}")
    return 0


def _guide(rig, args, console, stack):
    from calibration.guides import AutoGuide, InteractiveGuide

    if rig.backend == "sim":
        from robot_stack.app.sim_session import SimSession

        session = stack.enter_context(SimSession(rig, operator=False))
        if args.auto:
            return AutoGuide(session.hand, console, settle_s=0.02)
    return InteractiveGuide(console)


def calibrate_one(rig, name: str, guide, console: Console):
    from calibration.procedure import calibrate_arm
    from drivers.dynamixel.arm import DynamixelArm

    console.print(f"[bold]calibrating {name}[/] ({rig.arms[name].role}): torque off, the arm is free to move")
    with DynamixelArm.from_rig(rig, name, torque=False) as arm:
        return calibrate_arm(arm, guide, rig.name)


def summary_table(cal, path) -> Table:
    table = Table(title=f"{cal.arm} — {path}", title_justify="left")
    for column in ("joint", "motor", "homing offset", "reversed", "range", "shadow"):
        table.add_column(column)
    for j in cal.joints:
        if j.kind == "gripper":
            span = f"closed {j.zero_ticks:.0f} → open {j.zero_ticks + j.ticks_per_unit:.0f} ticks"
        else:
            span = f"{math.degrees(j.range[0]):+.0f}° .. {math.degrees(j.range[1]):+.0f}°"
        if j.crosses_encoder_seam:
            span += " [yellow](crosses encoder seam)[/]"
        shadow = f"{j.shadow.id} (offset {j.shadow.homing_offset})" if j.shadow else ""
        table.add_row(
            j.joint,
            str(j.motor.id),
            str(j.motor.homing_offset),
            "yes" if j.motor.drive_mode & 1 else "no",
            span,
            shadow,
        )
    return table
