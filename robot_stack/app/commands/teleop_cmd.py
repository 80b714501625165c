"""`robot-stack teleop`: leader-follower puppeteering at the rig's control rate."""

from __future__ import annotations

import argparse
import contextlib

from rich.console import Console

from robot_stack.rig import load_rig

EXAMPLES = """\
examples:
  robot-stack teleop                         move the leaders; the followers mirror them (Ctrl-C parks)
  robot-stack teleop --seconds 30            stop (and park) after 30 s
  robot-stack teleop --ramp-in 4             take 4 s to bring the followers onto the leaders
  robot-stack teleop --operator none         sim rig: nobody moves the leaders (default: the script)

Needs calibrated arms (`robot-stack calibrate`). Refuses to start when a leader is farther from its
follower than deploy.safety.max_start_error_rad; stops safely when a motor goes silent or reports a
hardware error.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "teleop",
        help="puppeteer the followers with the leader arms",
        description="Run the leader-follower loop at the rig's control rate with a live panel.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until Ctrl-C)")
    p.add_argument(
        "--ramp-in", type=float, default=None, metavar="S", help="ramp-in time (default: rig file)"
    )
    p.add_argument(
        "--operator",
        choices=["scripted", "none"],
        default="scripted",
        help="sim rig: who moves the leaders (default scripted)",
    )
    p.add_argument("--task", help="sim rig: the task the scripted operator performs")
    p.add_argument("--seed", type=int, help="sim rig: scene seed")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from calibration.files import load_rig_calibration
    from calibration.rig_arms import RigArms
    from robot_stack.app.live import run_with_panel
    from robot_stack.app.teleop.loop import TeleopLoop
    from robot_stack.app.teleop.panel import teleop_panel

    console = Console(highlight=False)
    rig = load_rig(args.rig)
    calibrations = load_rig_calibration(rig, args.rig)
    with contextlib.ExitStack() as stack:
        if rig.backend == "sim":
            from robot_stack.app.sim_session import SimSession

            stack.enter_context(
                SimSession(rig, operator=args.operator == "scripted", task=args.task, seed=args.seed)
            )
        arms = stack.enter_context(RigArms(rig, calibrations))
        loop = TeleopLoop(rig, arms, ramp_in_s=args.ramp_in)
        stats = run_with_panel(
            lambda stop: loop.run(stop, duration_s=args.seconds), lambda: teleop_panel(loop), console
        )
    latency = loop.latency_percentiles()
    console.print(
        f"teleop done: {stats.ticks} ticks at {stats.achieved_rate_hz:.1f} Hz, period error p99 "
        f"{stats.period_error.p99_ms:.2f} ms, {stats.overruns} overruns; leader→follower latency p50 "
        f"{latency.get('p50_ms', float('nan')):.2f} / p99 {latency.get('p99_ms', float('nan')):.2f} ms"
    )
    return 0
