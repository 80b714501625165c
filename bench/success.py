"""Success rates: record scripted demonstrations on the simulated rig, train ACT and Diffusion Policy,
evaluate on held-out seeds, for transfer_cube and insertion.

    python bench/success.py --out docs/bench/success.json     # the full protocol: hours on a 2-core CPU
    python bench/success.py --quick --out /tmp/success.json   # a tiny version (minutes) to check the harness

Full protocol (the ACT paper's simulated setting): 50 successful scripted demonstrations per task
(seeds 0, 1, ...; a seed the scripted operator fails is skipped), the `sim-cpu` preset trained for its
time budget (60 min), 50 evaluation episodes on seeds 1000-1049 (never used for demonstrations), in
lockstep time through the driver stack. The quick version records 2 short (3 s) takes with 48×64
cameras per task, trains the `test` preset for 20 steps and evaluates 2 episodes: its success rates
mean nothing.

The demonstrations are recorded with `robot-stack record` (scripted operator, real time): see
`record_demos`. Execution as the methods' authors evaluated: ACT plans every tick and blends the
overlapping chunks by temporal ensembling (m = 0.01, `--act-ensemble`), Diffusion Policy runs each
chunk's 8 actions open-loop. `--reuse-runs` evaluates runs already trained in `--workdir`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from drivers.sim.rig import rig_with_ports_in  # noqa: E402
from drivers.sim.scripted_operator import STYLES  # noqa: E402
from policies import make_config  # noqa: E402
from robot_stack.app.cli import main as cli  # noqa: E402
from robot_stack.app.evaluation import EvalSettings, evaluate  # noqa: E402
from robot_stack.rig import RigSpec, load_rig  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TASKS = ("transfer_cube", "insertion")
POLICIES = ("act", "diffusion")
# ACT paper (Zhao et al. 2023), simulated ALOHA, 50 scripted demonstrations; and this targets
PAPER = {"transfer_cube": 0.86, "insertion": 0.32}
TARGET = {"transfer_cube": 0.90, "insertion": 0.50}
MAX_TAKES_PER_DEMO = 4  # give up when the scripted operator succeeds in fewer than 1 take in 4


def record_demos(
    rig_file: Path,
    path: Path,
    task: str,
    count: int,
    *,
    short_s: float | None = None,
    noise_rad: float | None = None,
) -> dict:
    """`count` successful scripted demonstrations of `task` recorded with `robot-stack record`.

    The rig is calibrated first (`calibrate --auto`); `record` runs the scripted operator in real time
    through the whole stack (teleop loop, calibrated arms, cameras, episode writer) with a new scene
    seed per take. Takes the scripted operator fails are removed (`dataset remove`), and more are
    recorded (`--resume`, new seeds) until `count` successes or MAX_TAKES_PER_DEMO × count takes."""
    from robot_stack.store import Dataset

    started = time.time()
    base = ["--rig", str(rig_file)]
    if cli([*base, "calibrate", "--auto"]) != 0:
        raise SystemExit("success: calibrate --auto failed")
    kept, next_seed = _recorded(path)  # a --workdir used before keeps what it has
    tried = 0
    failed_seeds: list[int] = []
    while kept < count and tried < MAX_TAKES_PER_DEMO * count:
        wanted = count - kept
        argv = [*base, "record", "--dataset", str(path), "--task", task, "--episodes", str(wanted)]
        argv += ["--reset-seconds", "0.5", "--seed", str(next_seed)] + (["--resume"] if path.exists() else [])
        if short_s is not None:
            argv += ["--episode-seconds", str(short_s)]
        if noise_rad is not None:
            argv += ["--noise", str(noise_rad)]
        if cli(argv) != 0:
            raise SystemExit("success: record failed")
        with Dataset.open(path) as dataset:
            episodes = dataset.episodes()
        new = [k for k, a in episodes.items() if a.get("seed", -1) >= next_seed]
        if not new:
            raise SystemExit("success: record saved nothing (stopped?)")
        tried += len(new)
        next_seed = max(episodes[k]["seed"] for k in new) + 1  # failed scenes are not retried
        failed = [k for k in new if short_s is None and not episodes[k].get("success")]
        if failed:
            failed_seeds += [episodes[k]["seed"] for k in failed]
            if cli(["dataset", "remove", str(path), ",".join(map(str, failed)), "--yes"]) != 0:
                raise SystemExit("success: could not remove the failed takes")
        kept, _ = _recorded(path)
    with Dataset.open(path) as dataset:
        seeds = sorted(a.get("seed") for a in dataset.episodes().values())
    return {
        "recorded_with": "robot-stack record --operator scripted (real time, calibrated arms, cameras)",
        "kept": kept,
        "tried": tried,
        # None when nothing new was recorded (a reused --workdir) or takes were too short to succeed
        "scripted_success_rate": (kept / tried) if tried and short_s is None else None,
        "failed_seeds": failed_seeds,
        "seeds": [seeds[0], seeds[-1]] if seeds else None,
        "wall_s": time.time() - started,
    }


def _recorded(path: Path) -> tuple[int, int]:
    """(episodes in the dataset, the next unused scene seed); (0, 0) when it does not exist yet."""
    from robot_stack.store import Dataset

    if not path.exists():
        return 0, 0
    with Dataset.open(path) as dataset:
        seeds = [a.get("seed", -1) for a in dataset.episodes().values()]
    return len(seeds), max(seeds, default=-1) + 1


def trained(run: Path) -> dict:
    """How the run in `run` was trained, from its metrics log: minutes, steps, passes over the data
    (epochs, the last one partial), samples/s, best loss."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]
    steps = [r for r in rows if r.get("kind") == "train"]
    stop = next((r for r in reversed(rows) if r.get("kind") == "stop"), {})
    config = json.loads((run / "best" / "policy.json").read_text())
    return {
        "train_minutes": steps[-1]["elapsed_s"] / 60 if steps else None,
        "steps": stop.get("step", steps[-1]["step"] if steps else 0),
        "epochs": steps[-1]["epoch"] + 1 if steps and "epoch" in steps[-1] else None,
        "stopped": stop.get("reason"),
        "samples_per_s_median": float(np.median([r["samples_per_s"] for r in steps])) if steps else None,
        "best_loss": stop.get("best"),
        "best_step": config.get("step"),
        "config": config.get("config"),
    }


def demo_rig(
    cameras: list[str] | None, size: tuple[int, int] | None, ports: Path, operator_style: str = "human"
) -> RigSpec:
    """The root rig with only the cameras the policy uses (rendering the others would cost time for
    nothing), optionally at another size, its serial ports (and motor EEPROM) in `ports`, and the
    scripted operator demonstrating in `operator_style`."""
    data = rig_with_ports_in(load_rig(REPO / "hardware.yaml"), ports).model_dump(mode="json")
    data["sim"]["operator_style"] = operator_style
    keep = cameras or list(data["cameras"])
    data["cameras"] = {name: dict(data["cameras"][name]) for name in keep}
    if size is not None:
        for camera in data["cameras"].values():
            camera["height"], camera["width"] = size
    return RigSpec.model_validate(data)


def main() -> None:
    p = _common.parser(__doc__)
    p.add_argument("--preset", default=None, help="training preset (default sim-cpu; quick: test)")
    p.add_argument("--demos", type=int, default=None, help="demonstrations per task (default 50; quick 2)")
    p.add_argument("--episodes", type=int, default=None, help="evaluation episodes (default 50; quick 2)")
    p.add_argument(
        "--train-minutes", type=float, default=None, help="training time budget (default: the preset's)"
    )
    p.add_argument(
        "--tasks",
        nargs="*",
        default=list(TASKS),
        help="default: both; transfer_cube_rotated has no paper figure",
    )
    p.add_argument("--policies", nargs="*", default=list(POLICIES))
    p.add_argument(
        "--workdir", type=Path, default=None, help="keep datasets and runs here (default: a temp folder)"
    )
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="training override (repeatable)"
    )
    p.add_argument(
        "--act-ensemble",
        default="0.01",
        metavar="M",
        help="ACT: temporal ensembling weight rate, planning every tick; 'none' runs chunks open-loop",
    )
    p.add_argument(
        "--reuse-runs", action="store_true", help="evaluate a run already trained in the workdir as it is"
    )
    p.add_argument(
        "--operator-style",
        choices=STYLES,
        default="human",
        help="how the scripted operator demonstrates: human (varied tempo, pauses, tremor and strategy; "
        "default) or steady (one fixed way per layout, like the ACT paper's scripted policy)",
    )
    p.add_argument(
        "--noise",
        type=float,
        default=None,
        metavar="RAD",
        help="record the demonstrations with `record --noise RAD` (offsets on the followers, clean actions)",
    )
    args = p.parse_args()
    act_ensemble = None if args.act_ensemble == "none" else float(args.act_ensemble)
    preset = args.preset or ("test" if args.quick else "sim-cpu")
    demos = args.demos or (2 if args.quick else 50)
    episodes = args.episodes or (2 if args.quick else 50)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="success_bench_"))
    result = {
        "bench": "success",
        "quick": args.quick,
        "preset": preset,
        "demos_per_task": demos,
        "eval_episodes": episodes,
        "eval_seeds": [1000, 1000 + episodes - 1],
        "time": "lockstep; success = the task's check holds at some tick within 15 s of sim time",
        "execution": {
            "act": "open-loop chunks" if act_ensemble is None else f"temporal ensembling, m = {act_ensemble}",
            "diffusion": "open-loop chunks (n_action_steps)",
        },
        "train_overrides": args.set,
        "operator_style": args.operator_style,
        "demo_noise_rad": args.noise,
        "paper_act_scripted": PAPER,
        "targets": TARGET,
        "tasks": {},
    }
    for task in args.tasks:
        entry = result["tasks"][task] = {"policies": {}}
        cameras = make_config("act", preset).data.cameras  # sim-cpu: cam_high; test and paper: all
        rig = demo_rig(
            cameras, (48, 64) if args.quick else None, workdir / f"{task}_ports", args.operator_style
        )
        rig_file = workdir / f"{task}_rig.yaml"
        rig_file.parent.mkdir(parents=True, exist_ok=True)
        rig_file.write_text(yaml.safe_dump(rig.model_dump(mode="json"), sort_keys=False))
        dataset = workdir / f"{task}.zarr"
        print(f"success: {task}: recording {demos} scripted demonstrations", file=sys.stderr, flush=True)
        entry["demos"] = record_demos(
            rig_file, dataset, task, demos, short_s=3.0 if args.quick else None, noise_rad=args.noise
        )
        for policy in args.policies:
            run = workdir / f"{task}_{policy}"
            overrides = list(args.set)
            if args.quick:
                overrides += ["train.steps=20"]
            if args.train_minutes is not None:
                overrides += make_config(policy, preset).train.budget_overrides(args.train_minutes)
            argv = ["--rig", str(rig_file), "train", "--policy", policy, "--dataset", str(dataset)]
            argv += ["--out", str(run), "--preset", preset, "--no-progress"]
            for item in overrides:
                argv += ["--set", item]
            if args.reuse_runs and (run / "best" / "policy.json").exists():
                print(f"success: {task}: reusing the trained run {run}", file=sys.stderr, flush=True)
            else:
                print(f"success: {task}: training {policy} ({preset})", file=sys.stderr, flush=True)
                if cli(argv) != 0:
                    entry["policies"][policy] = {"error": "training failed"}
                    continue
            training = trained(run)
            print(f"success: {task}: evaluating {policy} on {episodes} seeds", file=sys.stderr, flush=True)
            settings = EvalSettings(
                task=task,
                episodes=episodes,
                videos=1 if args.quick else 3,
                ensemble_m=act_ensemble if policy == "act" else None,
            )
            report = evaluate(run, rig, settings, run / f"eval_{task}")
            low, high = report.ci95
            entry["policies"][policy] = {
                **training,
                "run": str(run),
                "successes": report.successes,
                "success_rate": report.success_rate,
                "ci95": [low, high],
                "meets_target": report.success_rate >= TARGET[task] if task in TARGET else None,
            }
    _common.write(result, args.out)


if __name__ == "__main__":
    main()
