"""`make demo`: the main job on the simulated rig, as far as the project goes today.

Today: validate and show the default rig, hold its control rate on this machine, run scripted
episodes of both tasks on the simulated rig — leader servos → driver → follower servos → physics —
and report whether each task succeeded; then calibrate the simulated arms (`calibrate --auto`) and
record a small dataset with `robot-stack record` (the scripted operator does two transfer-cube
demonstrations, in real time, with the four cameras at 15 fps) into a temporary folder, and list it.
Each later capability adds its step here (train → deploy → success).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import yaml
from rich.console import Console
from rich.rule import Rule

from robot_stack.app.cli import main as cli
from robot_stack.app.sim_episode import mirrored_episode
from robot_stack.rig import load_rig

DEMO_CAMERA_FPS = 15

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
    status = record_demo(console, rig)
    if status != 0:
        return status
    console.print(Rule("[bold green]demo finished[/]"))
    return 0


def record_demo(console: Console, rig: Path, episodes: int = 2) -> int:
    """Calibrate (auto) and record `episodes` scripted demonstrations through `robot-stack record`.

    The rig file is copied into a temporary folder, so its calibration files land there and not
    beside the repository's hardware.yaml; the dataset is left there for a look. The copy's cameras
    run at 15 fps: four 480×640 renders at 30 fps take more than a core in software EGL, and the
    demo should not look like a machine that cannot record (bench/record.py measures the full rate).
    """
    folder = Path(tempfile.mkdtemp(prefix="robot_stack_demo_"))
    demo_rig = folder / "hardware.yaml"
    data = yaml.safe_load(Path(rig).read_text())
    for camera in data.get("cameras", {}).values():
        camera["fps"] = DEMO_CAMERA_FPS
    demo_rig.write_text(yaml.safe_dump(data, sort_keys=False))
    dataset = folder / "demo.zarr"
    steps = [
        ("Calibrate the simulated arms", ["calibrate", "--auto"]),
        (
            f"Record {episodes} demonstrations (scripted operator, real time, cameras)",
            ["record", "--dataset", str(dataset), "--task", "transfer_cube", "--episodes", str(episodes)],
        ),
        ("The recorded dataset", ["dataset", "list", str(dataset)]),
    ]
    for title, argv in steps:
        console.print(Rule(f"[bold]{title}[/]  robot-stack {' '.join(argv)}"))
        status = cli(["--rig", str(demo_rig), *argv])
        if status != 0:
            console.print(f"[bold red]demo stopped: {title.lower()} failed[/] (files in {folder})")
            return status
    console.print(f"dataset: {dataset}  (read it with plain zarr: docs/episode_store.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
