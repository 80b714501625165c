"""Rich renderings of a rig description and of loop timing, shared by several commands."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table

from robot_stack.rate_loop import LoopStats
from robot_stack.rig.schema import ArmSpec, RigSpec


def rig_tables(rig: RigSpec, source: str) -> Group:
    header = Table.grid(padding=(0, 2))
    header.add_row("[bold]rig[/]", rig.name, "[bold]backend[/]", rig.backend)
    header.add_row("[bold]file[/]", source, "[bold]control rate[/]", f"{rig.control_rate_hz:g} Hz")

    arm_tables = [_arm_table(name, arm) for name, arm in rig.arms.items()]

    pairs = Table(title="leader → follower pairs", title_justify="left")
    pairs.add_column("leader")
    pairs.add_column("follower")
    for pair in rig.pairs:
        pairs.add_row(pair.leader, pair.follower)

    cams = Table(title="cameras", title_justify="left")
    for col in ("camera", "driver", "device / serial", "size", "fps", "exposure"):
        cams.add_column(col)
    for name, cam in rig.cameras.items():
        exp = "auto" if cam.exposure.auto else f"{cam.exposure.exposure_us} µs"
        source = str(cam.serial if cam.driver == "realsense" else cam.device)
        cams.add_row(name, cam.driver, source, f"{cam.width}×{cam.height}", str(cam.fps), exp)
    return Group(header, *arm_tables, pairs, cams)


def _arm_table(name: str, arm: ArmSpec) -> Table:
    table = Table(
        title=f"[bold]{name}[/]  {arm.role}, {arm.side}, {arm.port} @ {arm.baud_rate:,} baud",
        title_justify="left",
    )
    for col in ("joint", "id", "model", "mode", "notes"):
        table.add_column(col)
    for joint, motor in arm.motors.items():
        notes = []
        if motor.shadow:
            notes.append(f"shadow id {motor.shadow.id}{' reversed' if motor.shadow.reverse else ''}")
        if motor.current_limit_ma:
            notes.append(f"≤ {motor.current_limit_ma:g} mA")
        if joint == arm.gripper:
            notes.append("gripper")
        mode = arm.operating_mode_of(joint)
        table.add_row(joint, str(motor.id), motor.model, mode, ", ".join(notes))
    return table


def loop_stats_table(stats: LoopStats, title: str = "loop timing") -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("", "p50 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="right" if col else "left")
    rows = [
        ("period error", stats.period_error),
        ("wake latency", stats.wake_latency),
        ("body time", stats.busy),
    ]
    rows += [(f"  {name}", pct) for name, pct in stats.sections.items()]
    for label, pct in rows:
        table.add_row(label, f"{pct.p50_ms:.3f}", f"{pct.p99_ms:.3f}", f"{pct.max_ms:.3f}")
    table.caption = (
        f"{stats.ticks} ticks at {stats.achieved_rate_hz:.2f} Hz (target {stats.rate_hz:g}), "
        f"{stats.overruns} overruns, {stats.skipped_ticks} skipped; "
        f"real-time scheduling {'on' if stats.realtime else 'OFF (no permission)'}"
    )
    return table
