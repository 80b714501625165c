"""`evaluate(...)`: a checkpoint's success rate on a simulated task over consecutive seeds.

Writes to the output folder:
    results.json     settings, success rate with its Wilson 95 % interval, every episode's result
    episodes.jsonl   one JSON line per episode as it finishes (kept if the run is interrupted)
    videos/          rollout videos of the first K episodes (seed_NNNN.mp4, or JPEG folders)
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from robot_stack.app.evaluation.rollout import EpisodeResult, default_replan_every, run_episode
from robot_stack.app.evaluation.stats import wilson_interval
from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import RigSpec

# Episode time limits: the scripted demonstrations take 9–12 s of sim time; a policy gets some slack.
DEFAULT_SECONDS = {"transfer_cube": 15.0, "transfer_cube_rotated": 15.0, "insertion": 15.0}
DEFAULT_SEED_START = 1000  # demonstrations are recorded from seeds below this: evaluation is held out


@dataclass
class EvalSettings:
    task: str
    episodes: int
    seed_start: int = DEFAULT_SEED_START
    max_seconds: float | None = None  # None: DEFAULT_SECONDS for the task
    replan_every: int | None = None  # ticks; None: the whole chunk (1 when ensembling)
    ensemble_m: float | None = None  # temporal ensembling weight rate; None: chunks run open-loop
    latency_ticks: int = 0  # plan from the observation this many ticks old (a planner's latency)
    image_lag_ticks: int = 0  # camera frames this many ticks older than the joint state beside them
    videos: int = 3
    device: str = "cpu"
    sampler_steps: int | None = None  # DDIM / Euler steps; None: the checkpoint's


@dataclass
class EvalReport:
    out_dir: Path
    successes: int
    episodes: list[EpisodeResult] = field(default_factory=list)

    @property
    def success_rate(self) -> float:
        return self.successes / max(1, len(self.episodes))

    @property
    def ci95(self) -> tuple[float, float]:
        return wilson_interval(self.successes, len(self.episodes))


def check_task(task: str) -> None:
    from drivers.sim.tasks import get_task

    get_task(task)  # a RobotStackError naming the known tasks


def evaluate(
    checkpoint: str | Path,
    rig: RigSpec,
    settings: EvalSettings,
    out_dir: str | Path,
    on_episode: Callable[[EpisodeResult, EvalReport], None] | None = None,
    on_start: Callable[[dict], None] | None = None,
) -> EvalReport:
    """Every check (rig, task, checkpoint against rig) runs before the first episode; then `on_start`
    gets the settings header and `on_episode` each result as it comes."""
    from drivers.sim.rig import rig_with_ports_in
    from policies import Policy

    if rig.backend != "sim":
        raise RobotStackError(
            f"rig '{rig.name}' has backend '{rig.backend}'; evaluation runs on the simulated rig",
            hint="pass a sim rig file (the root hardware.yaml is one)",
        )
    check_task(settings.task)
    if settings.episodes < 1:
        raise RobotStackError(f"--episodes {settings.episodes}: nothing to evaluate", hint="use 1 or more")
    policy = Policy.load(checkpoint, device=settings.device, steps=settings.sampler_steps)
    policy.check_rig(rig)
    max_seconds = settings.max_seconds or DEFAULT_SECONDS.get(settings.task, 15.0)
    replan = settings.replan_every or (1 if settings.ensemble_m is not None else default_replan_every(policy))
    if max_seconds <= 0:
        raise RobotStackError(f"--max-seconds {max_seconds} is not positive", hint="e.g. --max-seconds 15")
    if settings.ensemble_m is not None and not math.isfinite(settings.ensemble_m):
        raise RobotStackError(f"--ensemble {settings.ensemble_m} is not a number", hint="ACT's is 0.01")
    for flag, ticks in (
        ("--latency-ticks", settings.latency_ticks),
        ("--image-lag-ticks", settings.image_lag_ticks),
    ):
        if ticks < 0:
            raise RobotStackError(f"{flag} {ticks} is negative", hint="0 uses the current tick's")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "episodes.jsonl"
    log_path.write_text("")
    report = EvalReport(out, 0)
    started = time.time()
    header = {
        "checkpoint": str(policy.checkpoint.path),
        "policy": policy.kind,
        "preset": policy.config.preset,
        "step": policy.checkpoint.step,
        "rig": rig.name,
        "task": settings.task,
        "episodes": settings.episodes,
        "seeds": [settings.seed_start, settings.seed_start + settings.episodes - 1],
        "max_seconds": max_seconds,
        "replan_every_ticks": replan,
        "ensemble_m": settings.ensemble_m,
        "latency_ticks": settings.latency_ticks,
        "image_lag_ticks": settings.image_lag_ticks,
        "sampler_steps": policy.steps,
        "time": "lockstep (sim time; independent of this machine's speed)",
        "device": settings.device,
    }
    if on_start is not None:
        on_start(header)
    # private ports: an evaluation runs beside a `robot-stack sim` (or another evaluation) on the same rig file
    with tempfile.TemporaryDirectory(prefix="robot_stack_eval_") as ports:
        private = rig_with_ports_in(rig, ports)
        for k in range(settings.episodes):
            seed = settings.seed_start + k
            video = out / "videos" / f"seed_{seed:04d}.mp4" if k < settings.videos else None
            result = run_episode(
                policy,
                private,
                settings.task,
                seed,
                max_seconds,
                replan,
                video,
                settings.ensemble_m,
                settings.latency_ticks,
                settings.image_lag_ticks,
            )
            report.episodes.append(result)
            report.successes += int(result.success)
            with log_path.open("a") as f:
                f.write(json.dumps(result.to_json()) + "\n")
            if on_episode is not None:
                on_episode(result, report)
    low, high = report.ci95
    summary = {
        **header,
        "successes": report.successes,
        "success_rate": report.success_rate,
        "ci95": [low, high],
        "ci_method": "Wilson score interval, 95 %",
        "wall_s": time.time() - started,
        "per_episode": [r.to_json() for r in report.episodes],
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    return report
