"""One scripted episode on the simulated rig, end to end through the servo chains and the driver.

The scripted operator moves the leader servos; each 50 Hz tick both leaders are read and both
followers written through `DynamixelArm`, in lockstep time. The simulator's own motor mounting maps
ticks to joints here (not a calibration), so this measures physics + servo chains + driver alone;
teleop through calibrated arms is `robot_stack.app.teleop`.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.dynamixel.arm import DynamixelArm
from drivers.sim.rig import LOCKSTEP_REPLY_MARGIN_MS, SimRig
from robot_stack.rig.schema import RigSpec


@dataclass(frozen=True)
class EpisodeOutcome:
    task: str
    seed: int
    success: bool
    sim_seconds: float
    ticks: int


def mirrored_episode(rig: RigSpec, task: str, seed: int, tail_s: float = 1.0) -> EpisodeOutcome:
    dt = 1.0 / rig.control_rate_hz
    with SimRig(rig, task=task, seed=seed, realtime=False) as sim:
        mounting = sim.mounting()
        arms = {
            name: DynamixelArm.from_rig(rig, name, timeout_margin_ms=LOCKSTEP_REPLY_MARGIN_MS).open()
            for name in rig.arms
        }
        try:
            ticks = int((sim.operator.duration + tail_s) / dt)
            for _ in range(ticks):
                for pair in rig.pairs:
                    q = mounting.values(pair.leader, arms[pair.leader].read().positions)
                    arms[pair.follower].write_goal(mounting.raw(pair.follower, q))
                sim.clock.advance(dt)
        finally:
            for arm in arms.values():
                arm.close()
        return EpisodeOutcome(task, seed, sim.success(), sim.scene.time, ticks)
