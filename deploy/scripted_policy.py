"""A stand-in policy for the simulated rig: the scripted operator's plan, served as action chunks.

`ScriptedReplayPolicy` answers every observation with the operator's leader targets for the next
`chunk_s` seconds (time-indexed from the observation's capture time), exactly as a trained policy
that had learnt the demonstrations perfectly would. It goes through the same planner, wire, ensembler,
safety layer and bus as a real checkpoint, so a deployment with it completing the task shows the
runtime end to end — and comparing it against the same operator in lockstep shows what real time,
planner latency and ensembling cost, independent of how well a network was trained.

It is open loop (the plan does not look at the images), so it says nothing about a learnt policy's
closed-loop behaviour. It takes a `prefix` (real-time chunking's committed actions: kept as given),
so it runs in every ensembling mode.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from drivers.sim.scripted_operator import ScriptedOperator
from policies.inference import ActionChunk
from policies.spec import PolicySpec
from robot_stack.rig.schema import RigSpec


class ScriptedReplayPolicy:
    kind = "scripted-replay"
    supports_prefix = True
    n_obs_steps = 1

    def __init__(
        self,
        rig: RigSpec,
        task: str,
        seed: int,
        *,
        time_origin: float = 0.0,
        chunk_s: float = 1.0,
        cameras: list[str] | None = None,
        image_size: tuple[int, int] = (48, 64),
    ):
        """`time_origin`: the observation time (host monotonic) at which the operator's plan starts;
        before it the plan's first pose is held."""
        followers = {name: arm.joint_names for name, arm in rig.arms_with_role("follower").items()}
        self.sides = [rig.arms[name].side for name in followers]
        self.spec = PolicySpec(
            cameras=list(cameras if cameras is not None else rig.cameras),
            image_size=image_size,
            crop_size=image_size,
            arms=followers,
            action_dim=sum(len(j) for j in followers.values()),
            control_rate_hz=rig.control_rate_hz,
        )
        self.dt = 1.0 / rig.control_rate_hz
        self.chunk_length = max(1, int(round(chunk_s / self.dt)))
        self.task = task
        self.restart(seed, time_origin)
        self.calls = 0

    def restart(self, seed: int, time_origin: float) -> None:
        """Another scene (seed), its plan starting at `time_origin`."""
        self.operator = ScriptedOperator(self.task, seed)
        self.seed, self.time_origin = seed, time_origin

    @property
    def duration(self) -> float:
        return self.operator.duration

    def reset(self) -> None:
        pass

    def warmup(self) -> float:
        return 0.0

    def predict(
        self, observation: Mapping, prefix: np.ndarray | None = None, *, previous: np.ndarray | None = None
    ) -> ActionChunk:
        self.calls += 1
        t = float(observation["t"])
        s = t - self.time_origin
        actions = np.array(
            [
                np.concatenate([self.operator.target(side, max(0.0, s + i * self.dt)) for side in self.sides])
                for i in range(self.chunk_length)
            ],
            dtype=np.float32,
        )
        if prefix is not None and len(prefix):
            actions[: len(prefix)] = prefix[: self.chunk_length]
        return ActionChunk(actions, t, self.dt)
