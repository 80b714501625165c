"""Replay one recorded episode on the rig and say how it went.

On the simulated rig the scene is first put back as it was recorded (the episode's task and scene
seed), so whether the task succeeds again is a check on the data: a demonstration whose own actions
do not succeed on replay was lucky, or its timing or calibration is off. The followers' tracking
error against the recorded observations says the same joint by joint.
"""

from __future__ import annotations

import contextlib
import math
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console

from calibration.files import load_rig_calibration
from calibration.rig_arms import RigArms
from robot_stack.app.live import run_with_panel
from robot_stack.app.replay.loop import ReplayLoop
from robot_stack.app.replay.panel import replay_panel
from robot_stack.app.replay.trajectory import RecordedTrajectory
from robot_stack.app.sim_session import SimSession, sim_bus_slack
from robot_stack.errors import RobotStackError
from robot_stack.rig import load_rig
from robot_stack.rig.schema import RigSpec
from robot_stack.store import Dataset


@dataclass
class ReplayResult:
    episode: int
    task: str
    seed: int | None
    recorded_s: float
    completed: bool  # played to the end (not stopped by the user)
    success: bool | None  # sim rig: the task's outcome on replay; None where nobody can tell
    recorded_success: bool | None
    ticks: int
    rate_hz: float | None
    period_error_p99_ms: float | None
    overruns: int
    tracking: dict

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Recording:
    trajectory: RecordedTrajectory
    task: str
    seed: int | None
    success: bool | None


def read_recording(dataset_path: str | Path, index: int, rig: RigSpec) -> Recording:
    with Dataset.open(dataset_path) as dataset:
        if index not in dataset.indices():
            raise RobotStackError(
                f"{dataset_path} has no episode {index}",
                hint="`robot-stack dataset list --dataset PATH` shows its episodes",
            )
        episode = dataset.episode(index)
        attrs = episode.attrs
        return Recording(
            RecordedTrajectory.from_episode(episode, rig),
            str(attrs.get("task", "")),
            attrs.get("seed"),
            attrs.get("success"),
        )


def replay_episode(
    rig_path: str | Path,
    dataset_path: str | Path,
    index: int,
    *,
    ramp_in_s: float | None = None,
    console: Console | None = None,
) -> ReplayResult:
    """Replay episode `index` on the rig of `rig_path`, with the live panel on `console`."""
    console = console or Console(highlight=False)
    if ramp_in_s is not None and ramp_in_s < 0:
        raise RobotStackError(f"--ramp-in {ramp_in_s:g} is negative", hint="use 0 or more seconds")
    rig = load_rig(rig_path)
    recording = read_recording(dataset_path, index, rig)
    followers = [pair.follower for pair in rig.pairs]
    calibrations = load_rig_calibration(rig, rig_path, followers)
    outcome: dict[str, bool | None] = {"success": None, "stopped": False}
    with contextlib.ExitStack() as stack:
        session = None
        if rig.backend == "sim":
            session = stack.enter_context(_sim_scene(rig, recording))
        slack = sim_bus_slack(rig)
        arms = stack.enter_context(RigArms(rig, calibrations, names=followers, **slack["arms"]))
        loop = ReplayLoop(rig, arms, recording.trajectory, ramp_in_s=ramp_in_s, **slack["loop"])

        def before_park() -> None:
            if session is not None:
                outcome["success"] = bool(session.status().get("success"))

        def work(stop: threading.Event):
            stats = loop.run(stop, duration_s=loop.duration_s, before_park=before_park)
            outcome["stopped"] = stop.is_set()  # by the user: Ctrl-C or SIGTERM
            return stats

        title = f"episode {index} · {recording.task or 'no task'}" + (
            f" · seed {recording.seed}" if recording.seed is not None else ""
        )
        stats = run_with_panel(work, lambda: replay_panel(loop, title), console)
    completed = not outcome["stopped"] and loop.position_s >= recording.trajectory.duration_s
    return ReplayResult(
        episode=index,
        task=recording.task,
        seed=recording.seed,
        recorded_s=round(recording.trajectory.duration_s, 3),
        completed=completed,
        success=outcome["success"] if completed else None,
        recorded_success=recording.success,
        ticks=stats.ticks,
        rate_hz=_finite(stats.achieved_rate_hz, 2),
        period_error_p99_ms=_finite(stats.period_error.p99_ms, 3),
        overruns=stats.overruns,
        tracking=loop.tracking.summary(),
    )


def _finite(value: float, digits: int) -> float | None:
    """None for a figure a run too short to measure leaves NaN (JSON has no NaN)."""
    return round(value, digits) if math.isfinite(value) else None


def _sim_scene(rig: RigSpec, recording: Recording):
    """The simulator with the recorded scene: the episode's task and seed, nobody at the leaders."""
    from drivers.sim.tasks import TASKS

    if recording.task not in TASKS:
        raise RobotStackError(
            f"the episode's task '{recording.task}' is not one the simulated rig has",
            hint=f"sim tasks: {', '.join(sorted(TASKS))}; replay other recordings on their own rig",
        )
    if recording.seed is None:
        raise RobotStackError(
            "the episode has no scene seed, so its scene cannot be restored",
            hint="replay episodes recorded on the simulated rig (`robot-stack record` stores the seed)",
        )
    return SimSession(rig, operator=False, task=recording.task, seed=int(recording.seed))
