"""`make demo`: the main job on the simulated rig, as far as the project goes today.

Today: validate and show the default rig, hold its control rate on this machine, run scripted
episodes of both tasks on the simulated rig — leader servos → driver → follower servos → physics —
and report whether each task succeeded; then calibrate the simulated arms (`calibrate --auto`) and
record a small dataset with `robot-stack record` (the scripted operator does two steady transfer-cube
demonstrations, in real time, with the four cameras at 15 fps) into a temporary folder, list it, and
replay the first one in its recorded scene (does it succeed again?).
Then train a small ACT on them (minutes) and deploy it with `robot-stack deploy` on held-out scenes,
which prints the success rate.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from rich.console import Console
from rich.rule import Rule

from drivers.sim.rig import rig_with_ports_in
from robot_stack.app.cli import main as cli
from robot_stack.app.sim_episode import mirrored_episode
from robot_stack.rig import load_rig

DEMO_CAMERA_FPS = 15


@dataclass(frozen=True)
class Scale:
    demos: int
    train_minutes: float
    deploy_episodes: int
    drop_failed: bool  # remove the takes the scripted operator failed before training
    noise_rad: float | None = None  # `record --noise`: followers pushed off the path, actions clean


# `make demo`: the pipeline end to end in minutes; `make demo-full`: the recipe that makes a policy
# worth deploying on this CPU (about 50 demonstrations with noise injected, the sim-cpu preset's hour,
# 20 held-out scenes). With 0.015 rad of noise about 3 takes in 4 succeed (docs/policies.md, tenth run).
QUICK = Scale(demos=2, train_minutes=3, deploy_episodes=3, drop_failed=False)
FULL = Scale(demos=66, train_minutes=60, deploy_episodes=20, drop_failed=True, noise_rad=0.015)

STEPS = [
    ("Check the rig description", ["rig", "check"]),
    ("Show the rig", ["rig", "show"]),
    ("Hold the control rate for 5 s", ["rig", "timing", "--seconds", "5"]),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m robot_stack.app.demo",
        description="The main job on the simulated rig: record, train, deploy, success rate.",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"the full recipe ({FULL.demos} takes with {FULL.noise_rad} rad of noise injected, the failed ones "
        f"dropped, {FULL.train_minutes:g} min of training, "
        f"{FULL.deploy_episodes} held-out scenes; about 1.5 h on 2 cores) instead of the quick one",
    )
    scale = FULL if parser.parse_args(argv).full else QUICK
    console = Console()
    rig = Path("hardware.yaml")
    for number, (title, argv) in enumerate(STEPS, start=1):
        console.print(Rule(f"[bold]{number}/{len(STEPS)} {title}[/]  robot-stack {' '.join(argv)}"))
        status = cli(["--rig", str(rig), *argv])
        if status != 0:
            console.print(f"[bold red]demo stopped: step {number} failed[/]")
            return status
    console.print(Rule(f"[bold]{len(STEPS) + 1}/{len(STEPS) + 1} Scripted episodes on the simulated rig[/]"))
    folder = Path(tempfile.mkdtemp(prefix="robot_stack_demo_"))
    # private ports: motors that keep their EEPROM beside the default ports may hold an earlier
    # calibration's offsets, and this step maps ticks through the factory mounting
    rig_spec = rig_with_ports_in(load_rig(rig), folder / "mirror")
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
    status = record_demo(
        console,
        rig,
        episodes=scale.demos,
        folder=folder,
        drop_failed=scale.drop_failed,
        noise_rad=scale.noise_rad,
    )
    if status != 0:
        return status
    status = deploy_demo(console, folder, scale.train_minutes, scale.deploy_episodes)
    if status != 0:
        return status
    console.print(Rule("[bold green]demo finished[/]"))
    return 0


def record_demo(
    console: Console,
    rig: Path,
    episodes: int = 2,
    folder: Path | None = None,
    drop_failed: bool = False,
    noise_rad: float | None = None,
) -> int:
    """Calibrate (auto) and record `episodes` scripted demonstrations through `robot-stack record`.

    The rig file is copied into a temporary folder, so its calibration files land there and not
    beside the repository's hardware.yaml; the dataset is left there for a look. The copy's cameras
    run at 15 fps: four 480×640 renders at 30 fps take more than a core in software EGL, and the
    demo should not look like a machine that cannot record (bench/record.py measures the full rate).
    The scripted operator demonstrates in its steady style: on this CPU's training budget, policies
    trained on steady takes succeed where ones trained on human-style takes do not (docs/policies.md).
    """
    folder = folder or Path(tempfile.mkdtemp(prefix="robot_stack_demo_"))
    demo_rig = folder / "hardware.yaml"
    data = yaml.safe_load(Path(rig).read_text())
    for camera in data.get("cameras", {}).values():
        camera["fps"] = DEMO_CAMERA_FPS
    data["sim"]["operator_style"] = "steady"
    for name, arm in data["arms"].items():  # the demo's own ports (and motor EEPROM): nobody else's
        arm["port"] = str(folder / "ports" / f"tty_{name}")
    demo_rig.write_text(yaml.safe_dump(data, sort_keys=False))
    dataset = folder / "demo.zarr"
    record = ["record", "--dataset", str(dataset), "--task", "transfer_cube", "--episodes", str(episodes)]
    if noise_rad is not None:
        record += ["--noise", str(noise_rad)]
    steps = [
        ("Calibrate the simulated arms", ["calibrate", "--auto"]),
        (
            f"Record {episodes} demonstrations (scripted operator, real time, cameras)",
            record,
        ),
        ("The recorded dataset", ["dataset", "list", str(dataset)]),
        (
            "Replay the first demonstration in its own scene",
            ["replay", "--dataset", str(dataset), "--episode", "0"],
        ),
    ]
    for title, argv in steps:
        console.print(Rule(f"[bold]{title}[/]  robot-stack {' '.join(argv)}"))
        status = cli(["--rig", str(demo_rig), *argv])
        if status != 0:
            console.print(f"[bold red]demo stopped: {title.lower()} failed[/] (files in {folder})")
            return status
    if drop_failed:
        status = _drop_failed_takes(console, demo_rig, dataset)
        if status != 0:
            return status
    console.print(f"dataset: {dataset}  (read it with plain zarr: docs/episode_store.md)")
    return 0


def _drop_failed_takes(console: Console, demo_rig: Path, dataset: Path) -> int:
    """Remove the takes the scripted operator failed: a policy should not learn them."""
    from robot_stack.store import Dataset

    with Dataset.open(dataset) as data:
        failed = [k for k, attrs in data.episodes().items() if attrs.get("success") is False]
    if not failed:
        return 0
    argv = ["dataset", "remove", str(dataset), ",".join(map(str, failed)), "--yes"]
    console.print(Rule(f"[bold]Drop the {len(failed)} failed take(s)[/]  robot-stack {' '.join(argv)}"))
    return cli(["--rig", str(demo_rig), *argv])


def deploy_demo(console: Console, folder: Path, train_minutes: float, episodes: int) -> int:
    """Train ACT (sim-cpu preset) on the recorded demonstrations for `train_minutes` and deploy it
    through `robot-stack deploy` — planner thread, 50 Hz executor, temporal ensembling, safety layer —
    on held-out scenes of the simulated rig; the command prints the success rate.

    In the quick demo, minutes of training on two demonstrations make a policy that moves, not one
    that succeeds: it shows the pipeline end to end; bench/success.py measures the method (hours), and
    bench/deploy.py the runtime with a policy that is right (the scripted operator's plan). The
    deploy rig is the recording rig with only the policy's camera (sim-cpu: cam_high), so the
    simulator renders one camera instead of four.
    """
    demo_rig, dataset, run = folder / "hardware.yaml", folder / "demo.zarr", folder / "act"
    deploy_rig = folder / "deploy.yaml"
    data = yaml.safe_load(demo_rig.read_text())
    data["cameras"] = {"cam_high": data["cameras"]["cam_high"]}
    data["calibration_dir"] = "hardware.calibration"  # the calibration `calibrate --auto` wrote
    deploy_rig.write_text(yaml.safe_dump(data, sort_keys=False))
    from policies import make_config  # torch: only once training is next

    budget = make_config("act", "sim-cpu").train.budget_overrides(train_minutes)
    steps = [
        (
            f"Train an ACT policy ({train_minutes:g} min on this CPU)",
            demo_rig,
            ["train", "--policy", "act", "--dataset", str(dataset), "--out", str(run), "--preset", "sim-cpu"]
            + [arg for item in budget for arg in ("--set", item)]
            + ["--set", "train.val_every=100"],
        ),
        (
            f"Deploy it on {episodes} held-out scenes (planner + 50 Hz executor, real time)",
            deploy_rig,
            ["deploy", "--checkpoint", str(run), "--task", "transfer_cube", "--seed", "1000"]
            + ["--episodes", str(episodes), "--seconds", "12"],
        ),
    ]
    for title, rig_file, argv in steps:
        console.print(Rule(f"[bold]{title}[/]  robot-stack {' '.join(argv)}"))
        status = cli(["--rig", str(rig_file), *argv])
        if status != 0:
            console.print(f"[bold red]demo stopped: {title.lower()} failed[/] (files in {folder})")
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
