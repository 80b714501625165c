"""`make demo`: the main job on the simulated rig, as far as the project goes today.

Today: validate and show the default rig, hold its control rate on this machine, then run scripted
episodes of both tasks on the simulated rig — leader servos → driver → follower servos → physics —
and report whether each task succeeded. Each later capability adds its step here
(record → train → deploy → success).
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from robot_stack.app.cli import main as cli
from robot_stack.app.sim_episode import mirrored_episode
from robot_stack.rig import load_rig

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
    console.print(Rule(f"[bold]{len(STEPS) + 1}/{len(STEPS) + 1} Scripted episodes on the simulated rig[/]"))
    rig_spec = load_rig(rig)
    for task, seed in (("transfer_cube", 0), ("insertion", 0)):
        with console.status(f"{task}, seed {seed}: leaders → driver → followers, lockstep time"):
            outcome = mirrored_episode(rig_spec, task, seed)
        verdict = "[green]success[/]" if outcome.success else "[red]failed[/]"
        console.print(
            f"  {task:<14} seed {seed}: {verdict} after {outcome.sim_seconds:.1f} s sim time, "
            f"{outcome.ticks} ticks through 4 emulated servo chains"
        )
        if not outcome.success:
            return 1
    console.print(Rule("[bold green]demo finished[/]"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
