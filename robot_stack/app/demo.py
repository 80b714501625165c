"""`make demo`: the main job on the simulated rig, as far as the project goes today.

Today: validate and show the default rig, then hold its control rate on this machine and print
the loop's timing. Each later capability adds its step here (record → train → deploy → success).
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from robot_stack.app.cli import main as cli

STEPS = [
    ("Check the rig description", ["rig", "check"]),
    ("Show the rig", ["rig", "show"]),
    ("Hold the control rate for 5 s", ["rig", "timing", "--seconds", "5"]),
]


def main() -> int:
    console = Console()
    rig = Path("hardware.yaml")
    for number, (title, argv) in enumerate(STEPS, start=1):
        console.print(Rule(f"[bold]{number}/{len(STEPS)} {title}[/]  robot-stack {' '.join(argv)}"))
        status = cli(["--rig", str(rig), *argv])
        if status != 0:
            console.print(f"[bold red]demo stopped: step {number} failed[/]")
            return status
    console.print(Rule("[bold green]demo finished[/]"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
