"""The live panel of a running teleop (or record) loop."""

from __future__ import annotations

import time

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from robot_stack.app.teleop.loop import TeleopLoop

LEVEL_STYLE = {"info": "dim", "warning": "yellow", "error": "bold red"}


def teleop_panel(
    loop: TeleopLoop, title: str = "teleop", tracking_title: str = "leader − follower (deg; gripper %)"
) -> Group:
    stats = loop.loop.live_stats()
    status = loop.status
    head = Table.grid(padding=(0, 2))
    for _ in range(4):
        head.add_column()
    rate = stats.achieved_rate_hz
    latency = loop.latency_percentiles()
    head.add_row(
        f"[bold]{title}[/] {status.phase}",
        f"rate {rate:.1f} Hz" if np.isfinite(rate) else "rate —",
        f"period err p99 {stats.period_error.p99_ms:.2f} ms (last min)",
        f"overruns [{'red' if stats.overruns else 'green'}]{stats.overruns}[/]",
    )
    bus = "  ".join(f"{name} {a.io.last_cycle_s * 1000:.1f} ms" for name, a in loop.arms.arms.items())
    head.add_row(
        f"leader→follower p50 {latency['p50_ms']:.1f} / p99 {latency['p99_ms']:.1f} ms" if latency else "",
        f"bus: {bus}",
        "",
        "realtime" if stats.realtime else "[yellow]not realtime[/]",
    )

    tracking = Table(title=tracking_title, title_justify="left", box=None)
    tracking.add_column("follower")
    joint_names = loop.pairs[0].follower.joint_names if loop.pairs else []
    for joint in joint_names:
        tracking.add_column(joint, justify="right")
    for state in loop.pairs:
        err = state.tracking_error
        if err is None:
            continue
        gripper = loop.rig.arms[state.follower.name].gripper
        cells = [
            f"{e * 100:.0f}%" if joint == gripper else f"{np.degrees(e):.1f}"
            for joint, e in zip(state.follower.joint_names, err, strict=True)
        ]
        tracking.add_row(state.follower.name, *cells)

    grippers = Text()
    for state in loop.pairs:
        gripper = loop.rig.arms[state.follower.name].gripper
        if gripper and state.command is not None:
            k = state.follower.joint_names.index(gripper)
            grippers.append(f"{state.follower.name} gripper {state.command[k]:.0%} open   ")

    now = time.monotonic()
    events = Text()
    for event in list(status.events)[-6:]:
        events.append(f"{now - event.t:6.1f} s ago  {event.text}\n", style=LEVEL_STYLE.get(event.level, ""))
    return Group(head, tracking, grippers, events)
