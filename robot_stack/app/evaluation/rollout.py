"""One policy-driven episode on the simulated rig, in lockstep time, through the real driver stack.

Each 50 Hz tick (sim time): the due camera frames are rendered, both followers are read through
`DynamixelArm` (emulated servo chains on pseudo-terminals) and mapped to joint values; every
`replan_every` ticks the policy plans a chunk from that observation, and the chunk's action for this
tick is mapped to raw goals and written to the followers; then physics steps one tick. The episode
ends when the task succeeds or time runs out. Since time only moves when the loop says so, the result
does not depend on how fast this machine plans.

Chunks are executed open-loop for `replan_every` ticks (diffusion/flow chunks, `stride` ticks per
action, are interpolated to the control rate), or, with `ensemble_m`, blended by the deploy runtime's
temporal ensembler (every chunk that covers the tick, weights exp(-m·rank), as ACT's authors evaluated
it with a plan every tick).

`latency_ticks` d puts a planner's latency into lockstep time: each plan is made from the observation
of d ticks before, its action 0 belongs to that tick, and the d actions already past are skipped — as
the deploy runtime stamps a chunk with its observation's capture time. What latency costs a policy is
then measured apart from this machine's speed. `image_lag_ticks` k makes the camera frames k ticks
older than the joint state they are planned with, as a frame that is still on its way from the camera
when the tick reads the joints leaves them in real time.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from robot_stack.app.evaluation.cameras import LockstepCameras
from robot_stack.app.evaluation.joint_map import joint_map_for
from robot_stack.app.evaluation.video import RolloutVideo
from robot_stack.motion import StepLimiter, step_sizes
from robot_stack.rig.schema import RigSpec


@dataclass
class EpisodeResult:
    seed: int
    success: bool
    success_time_s: float | None  # sim time at which the task first succeeded
    stage: str  # the task's last stage ("transferred", "grasped", ...)
    # [sim time, stage] at each change: where a failure began ("lifted", then "on the table": dropped)
    stages: list
    sim_seconds: float
    ticks: int
    plans: int
    plan_ms_mean: float  # wall time per policy call (not part of the result: time is lockstep)
    plan_ms_max: float
    wall_s: float
    video: str | None = None
    step_limited_ticks: int | None = None  # with `step_limit`: ticks on which a joint was held back
    step_limited_by_joint: dict | None = None  # "arm/joint": ticks on which that joint was held back

    def to_json(self) -> dict:
        return asdict(self)


def default_replan_every(policy) -> int:
    """Ticks between plans: the whole chunk (ACT: chunk_size ticks; diffusion/flow: n_action_steps ×
    stride ticks), as the methods' authors executed them without ensembling."""
    return max(1, policy.chunk_length * policy.spec.stride)


def run_episode(
    policy,
    rig: RigSpec,
    task: str,
    seed: int,
    max_seconds: float,
    replan_every: int,
    video_path: Path | None = None,
    ensemble_m: float | None = None,
    latency_ticks: int = 0,
    image_lag_ticks: int = 0,
    phase_ticks: int = 0,
    step_limit: bool = False,
    ensemble_fade_s: float = 0.0,
) -> EpisodeResult:
    """One lockstep episode. A plan every `replan_every` ticks from the observation `latency_ticks`
    old (its images `image_lag_ticks` older still); after the first plan (tick 0) the next comes at
    tick `phase_ticks` when that is between 1 and `replan_every` - 1, so the same planning pattern
    can fall at another offset against the scene (real time's plans land at any offset). With
    `step_limit` the commands pass through the deploy runtime's per-tick step limits
    (`deploy.safety`), as they do on the robot; `ensemble_fade_s` is the runtime's `--fade` (a plan
    arrives at its planning tick)."""
    if not 0 <= phase_ticks < max(1, replan_every):
        raise ValueError(f"phase_ticks {phase_ticks}: must be in [0, replan_every={replan_every})")
    from deploy.ensemble import TemporalEnsembler
    from drivers.dynamixel.arm import DynamixelArm
    from drivers.sim.rig import LOCKSTEP_REPLY_MARGIN_MS, SimRig

    dt = 1.0 / rig.control_rate_hz
    followers = list(policy.spec.arms)
    slices, start = {}, 0
    for name in followers:
        slices[name] = slice(start, start + len(policy.spec.arms[name]))
        start += len(policy.spec.arms[name])
    joint_names = [f"{name}/{joint}" for name in followers for joint in policy.spec.arms[name]]
    camera_specs = {name: rig.cameras[name] for name in policy.spec.cameras}
    needs_history = policy.n_obs_steps > 1
    wall0 = time.perf_counter()
    plan_times: list[float] = []
    success_time = None
    stages: list = []
    video = None
    with SimRig(rig, task=task, seed=seed, realtime=False, operator=False) as sim:
        joints = joint_map_for(sim)
        arms = {
            name: DynamixelArm.from_rig(rig, name, timeout_margin_ms=LOCKSTEP_REPLY_MARGIN_MS).open()
            for name in followers
        }
        cameras = LockstepCameras(sim, camera_specs)
        if video_path is not None:
            video = RolloutVideo(video_path, fps=max(spec.fps for spec in camera_specs.values()))
        try:
            policy.reset()
            chunk, chunk_start, planned_at, tick = None, 0, 0, 0
            ensembler = (
                None
                if ensemble_m is None
                else TemporalEnsembler("ensemble", ensemble_m, tick_dt=dt, fade_s=ensemble_fade_s)
            )
            recent = deque(maxlen=latency_ticks + image_lag_ticks + 1)
            limiter, held_back = None, np.zeros(len(joint_names), int)
            for tick in range(int(round(max_seconds / dt))):
                t = sim.sim_time()
                rendered = cameras.capture(t)
                state = np.concatenate(
                    [joints.values(name, arms[name].read().positions) for name in followers]
                )
                recent.append({"images": dict(cameras.latest), "state": state.astype(np.float32), "t": t})
                age = min(latency_ticks, len(recent) - 1)
                observation = {
                    **recent[-1 - age],
                    "images": recent[max(0, len(recent) - 1 - age - image_lag_ticks)]["images"],
                }
                # counted from the tick of the plan, not from its observation's: a latency must not
                # make plans more frequent
                if chunk is None or tick - planned_at >= replan_every:
                    started = time.perf_counter()
                    planned = policy.predict(observation)
                    plan_times.append(time.perf_counter() - started)
                    chunk = planned.resampled(dt).actions if planned.dt != dt else planned.actions
                    chunk_start = tick - age  # action 0 is for the observation's tick
                    planned_at = tick if tick or not phase_ticks else phase_ticks - replan_every
                    if ensembler is not None:
                        ensembler.add(chunk, t0=observation["t"], dt=dt, arrived=t)
                elif needs_history:
                    policy.observe(observation)
                blended = None if ensembler is None else ensembler.action_at(t)
                if ensembler is not None:
                    ensembler.prune(t)
                # past the end of every chunk (--replan-every beyond the chunk) the last action holds
                action = blended if blended is not None else chunk[min(tick - chunk_start, len(chunk) - 1)]
                if step_limit:
                    if limiter is None:  # from where the arms are, as the runtime's ramp-in starts
                        sizes = [step_sizes(rig.arms[name], rig.deploy.safety) for name in followers]
                        limiter = StepLimiter(np.concatenate(sizes), state)
                    wanted, action = action, limiter(action)
                    held_back += np.abs(action - wanted) > 1e-9
                for name in followers:
                    arms[name].write_goal(joints.raw(name, action[slices[name]]))
                if video is not None and rendered:
                    video.add(
                        [cameras.latest[c] for c in policy.spec.cameras],
                        caption=f"seed {seed}  t {t:5.2f}s  {sim.scene.task_status().stage}",
                    )
                sim.clock.advance(dt)
                stage = sim.scene.task_status().stage
                if not stages or stages[-1][1] != stage:
                    stages.append([round(sim.sim_time(), 3), stage])
                if sim.success():
                    success_time = sim.sim_time()
                    break
            status = sim.scene.task_status()
            sim_seconds = sim.sim_time()
        finally:
            cameras.close()
            if video is not None:
                video.close()
            for arm in arms.values():
                arm.close()
    plan_ms = np.array(plan_times or [0.0]) * 1e3
    return EpisodeResult(
        seed=seed,
        success=success_time is not None,
        success_time_s=success_time,
        stage=status.stage,
        stages=stages,
        sim_seconds=round(sim_seconds, 4),
        ticks=tick + 1,
        plans=len(plan_times),
        plan_ms_mean=float(plan_ms.mean()),
        plan_ms_max=float(plan_ms.max()),
        wall_s=time.perf_counter() - wall0,
        video=str(video.written) if video is not None and video.frames else None,
        step_limited_ticks=None if limiter is None else limiter.limited_ticks,
        step_limited_by_joint=None
        if limiter is None
        else {name: int(n) for name, n in zip(joint_names, held_back, strict=True) if n},
    )
