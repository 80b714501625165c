"""Scripted demonstrations on the simulated rig, written to an episode dataset.

`record_scripted_demos` is the one function tests and bench/success.py use to get training data. It is
a stand-in for `robot-stack record` with the sim's scripted operator: that command records in real time
on a calibrated rig; this records in lockstep with the simulator's own mounting as the joint map (the
same map evaluation uses, evaluation/joint_map.py), so demonstrations and evaluation agree.

Each tick (lockstep time, the rig's control rate): due camera frames are rendered from the scene
(evaluation renders on the same schedule), both leaders and both followers are read through
`DynamixelArm`, the leaders' joint values are written to the followers as goals (teleoperation), and
the tick is stored: observation = follower joints, action = leader joints, in follower order. Ticks
and frames are stamped with sim time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robot_stack.app.evaluation.cameras import LockstepCameras
from robot_stack.app.evaluation.joint_map import joint_map_for
from robot_stack.rig.schema import RigSpec
from robot_stack.store import Dataset


@dataclass(frozen=True)
class DemoResult:
    seed: int
    success: bool
    kept: bool
    ticks: int
    index: int | None  # episode index in the dataset, when kept


def record_scripted_demos(
    rig: RigSpec,
    path: str | Path,
    task: str,
    seeds: Iterable[int],
    *,
    count: int | None = None,
    only_successes: bool = True,
    max_seconds: float | None = None,
    tail_s: float = 0.5,
    on_episode: Callable[[DemoResult], None] | None = None,
) -> list[DemoResult]:
    """Record one scripted episode per seed into the dataset at `path` (created, or appended to).

    `count`: stop once this many episodes are kept. `only_successes`: discard episodes in which the
    scripted operator failed the task (the ACT paper trained on successful scripted demos only).
    `max_seconds`: cut episodes short (tests). The rig's cameras are all rendered, at their sizes.
    """
    from drivers.sim.rig import rig_with_ports_in

    path = Path(path)
    opener = Dataset.resume if (path / "zarr.json").exists() else Dataset.create
    results = []
    kept = 0
    with tempfile.TemporaryDirectory(prefix="robot_stack_demos_") as ports, opener(path, rig) as dataset:
        private = rig_with_ports_in(rig, ports)
        for seed in seeds:
            if count is not None and kept >= count:
                break
            result = _record_one(dataset, private, task, seed, only_successes, max_seconds, tail_s)
            kept += int(result.kept)
            results.append(result)
            if on_episode is not None:
                on_episode(result)
    return results


def _record_one(
    dataset: Dataset,
    rig: RigSpec,
    task: str,
    seed: int,
    only_successes: bool,
    max_seconds: float | None,
    tail_s: float,
) -> DemoResult:
    from drivers.dynamixel.arm import DynamixelArm
    from drivers.sim.rig import LOCKSTEP_REPLY_MARGIN_MS, SimRig

    dt = 1.0 / rig.control_rate_hz
    followers = [name for name, arm in rig.arms.items() if arm.role == "follower"]
    leader_of = {pair.follower: pair.leader for pair in rig.pairs}
    with SimRig(rig, task=task, seed=seed, realtime=False, operator=True) as sim:
        joints = joint_map_for(sim)
        arms = {
            name: DynamixelArm.from_rig(rig, name, timeout_margin_ms=LOCKSTEP_REPLY_MARGIN_MS).open()
            for name in rig.arms
        }
        cameras = LockstepCameras(sim, rig.cameras)
        writer = dataset.begin_episode(task, operator="scripted", seed=seed, encode_threads=1)
        try:
            seconds = sim.operator.duration + tail_s
            if max_seconds is not None:
                seconds = min(seconds, max_seconds)
            ticks = int(round(seconds / dt))
            for _ in range(ticks):
                t = sim.sim_time()
                for name in cameras.capture(t):
                    writer.add_frame(name, t, cameras.latest[name])
                observation, action = [], []
                for follower in followers:
                    leader = leader_of[follower]
                    q_leader = joints.values(leader, arms[leader].read().positions)
                    observation.append(joints.values(follower, arms[follower].read().positions))
                    action.append(q_leader)
                    arms[follower].write_goal(joints.raw(follower, q_leader))
                writer.add_tick(t, np.concatenate(observation), np.concatenate(action))
                sim.clock.advance(dt)
            success = sim.success()
            if only_successes and not success:
                writer.discard()
                return DemoResult(seed, False, False, ticks, None)
            index = writer.finish("complete", success=success, tags=("scripted",))
            return DemoResult(seed, success, True, ticks, index)
        except BaseException:
            if writer.stats().state == "recording":
                writer.discard()
            raise
        finally:
            cameras.close()
            for arm in arms.values():
                arm.close()
