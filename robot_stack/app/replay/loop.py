"""The teleop loop with the recording in the leaders' place.

Everything that keeps the followers safe is the teleop loop's own: the ramp-in from where they stand,
the clip to each follower's calibrated range, the per-tick step limits, the stop on a silent arm or
a hardware alert, and the park at the end. What changes is where each tick's goal comes from: the
recorded goal at the same time into the episode, the recording's clock starting when the ramp-in
ends; after the recording's last goal, it is held for SETTLE_S. Each tick of the recording also
compares the followers with the recorded observations at that time.
"""

from __future__ import annotations

import numpy as np

from calibration.rig_arms import RigArms
from calibration.tick_reader import BUS_DEADLINE_S
from robot_stack.app.replay.tracking import TrackingErrors
from robot_stack.app.replay.trajectory import RecordedTrajectory
from robot_stack.app.teleop.loop import PairState, TeleopLoop, TickSample
from robot_stack.clock import Clock
from robot_stack.rig.schema import RigSpec

SETTLE_S = 0.5  # the last goal is held this long before the run ends: the arms reach it, the scene settles


class ReplayLoop(TeleopLoop):
    driving_phase = "replay"

    def __init__(
        self,
        rig: RigSpec,
        arms: RigArms,
        trajectory: RecordedTrajectory,
        *,
        clock: Clock | None = None,
        ramp_in_s: float | None = None,
        bus_deadline_s: float = BUS_DEADLINE_S,
    ):
        super().__init__(rig, arms, clock=clock, ramp_in_s=ramp_in_s, bus_deadline_s=bus_deadline_s)
        self.trajectory = trajectory
        self.t0: float | None = None  # when the recording's clock starts: the end of the ramp-in
        self.position_s = 0.0  # how far into the recording the last tick was
        names = rig.follower_joint_names()
        grippers = [
            names.index(f"{p.follower}/{rig.arms[p.follower].gripper}")
            for p in rig.pairs
            if rig.arms[p.follower].gripper
        ]
        self.tracking = TrackingErrors(names, grippers)
        self._tick_goal: tuple[float, np.ndarray, np.ndarray] | None = None

    @property
    def duration_s(self) -> float:
        """Ramp-in, the recording, then its last goal held for SETTLE_S."""
        return self.ramp_in_s + self.trajectory.duration_s + SETTLE_S

    def start(self) -> None:
        """Read the followers; each ramps in from where it stands towards the recording's first goal."""
        readings = self._prime()
        now = self.clock.now()
        self.pairs = []
        for pair in self.rig.pairs:
            follower = self.arms[pair.follower]
            q_follower = follower.map.to_values(readings[pair.follower].positions)
            self.pairs.append(self._pair_state(None, follower, q_follower, now))
        self.t0 = now + self.ramp_in_s
        self._started()

    def wanted(self, state: PairState, readings: dict, t: float) -> tuple[np.ndarray, np.ndarray]:
        if self._tick_goal is None or self._tick_goal[0] != t:
            self.position_s = t - self.t0
            self._tick_goal = (t, *self.trajectory.at(self.position_s))
        _, goal, observed = self._tick_goal
        columns = self.trajectory.columns[state.follower.name]
        return goal[columns], observed[columns]

    def tick(self, t: float | None = None) -> TickSample:
        sample = super().tick(t)
        if 0.0 <= self.position_s <= self.trajectory.duration_s:
            self.tracking.add(np.concatenate([state.tracking_error for state in self.pairs]))
        return sample

    def _ramp_done(self) -> None:
        self.status.phase = self.driving_phase
        self.event("info", "ramp-in done: replaying the recorded goals")
