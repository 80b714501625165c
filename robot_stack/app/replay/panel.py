"""The live panel of a replay: how far into the recording, then the teleop panel's figures."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from robot_stack.app.replay.loop import ReplayLoop
from robot_stack.app.teleop.panel import teleop_panel


def replay_panel(loop: ReplayLoop, title: str) -> Group:
    total = loop.trajectory.duration_s
    position = min(max(loop.position_s, 0.0), total)
    width = 40
    filled = int(round(width * position / total)) if total > 0 else width
    progress = Text(title, style="bold")
    progress.append(f"  {'█' * filled}{'·' * (width - filled)} {position:5.1f} / {total:.1f} s")
    return Group(
        progress, teleop_panel(loop, "replay", tracking_title="recorded − replayed (deg; gripper %)")
    )
