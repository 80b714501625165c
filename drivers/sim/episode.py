"""Run one scripted episode on a scene in lockstep: the operator's leader targets straight into the
follower targets at the control rate, optionally late and quantised the way the real path
(leader servos → teleop → follower servos) makes them, and optionally offset the way
`record --noise` offsets the followers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from drivers.sim.arms import ARM_SIDES
from drivers.sim.scene import SimScene
from drivers.sim.scripted_operator import ScriptedOperator
from drivers.sim.task_base import TaskStatus
from robot_stack.clock import LockstepClock


@dataclass(frozen=True)
class EpisodeResult:
    task: str
    seed: int
    success: bool
    status: TaskStatus
    strategy: dict
    duration_s: float  # sim seconds
    physics_wall_s: float  # host seconds spent stepping physics


def quantise(q7: np.ndarray, joint_quantum_rad: float, gripper_quantum: float) -> np.ndarray:
    out = q7.copy()
    if joint_quantum_rad > 0:
        out[:6] = np.round(out[:6] / joint_quantum_rad) * joint_quantum_rad
    if gripper_quantum > 0:
        out[6] = np.round(out[6] / gripper_quantum) * gripper_quantum
    return out


def run_scripted_episode(
    task: str,
    seed: int,
    control_hz: float = 50.0,
    delay_s: float | dict[str, float] = 0.0,
    joint_quantum_rad: float = 0.0,
    gripper_quantum: float = 0.0,
    scene: SimScene | None = None,
    style: str = "human",
    offsets_for: Callable[[ScriptedOperator], Callable[[str, float], np.ndarray]] | None = None,
) -> EpisodeResult:
    """`offsets_for(operator)` gives, for this take, a function (arm side, time) → 7 offsets added to
    that arm's follower target at that time (it may read the operator's steady spans)."""
    operator = ScriptedOperator(task, seed, model=None if scene is None else scene.model, style=style)
    offsets = offsets_for(operator) if offsets_for is not None else None
    if scene is None:
        scene = SimScene(task, seed)
    else:
        scene.reset(seed)
    # each arm its own lag: leader and follower chains are separate buses in the real path
    delays = delay_s if isinstance(delay_s, dict) else dict.fromkeys(ARM_SIDES, delay_s)
    clock = LockstepClock(start=0.0, step_to=scene.step_to)
    dt = 1.0 / control_hz
    tick = 0
    physics_s = 0.0
    while clock.now() < operator.duration:
        t = clock.now()
        for side in ARM_SIDES:
            target = operator.target(side, t - delays.get(side, 0.0))
            if offsets is not None:
                target = target + offsets(side, t)
            scene.set_follower_targets(side, quantise(target, joint_quantum_rad, gripper_quantum))
        tick += 1
        started = time.perf_counter()
        clock.sleep_until(tick * dt)  # steps the physics up to the next tick
        physics_s += time.perf_counter() - started
    status = scene.task_status()
    return EpisodeResult(
        operator.task.name, seed, status.success, status, operator.strategy, operator.duration, physics_s
    )
