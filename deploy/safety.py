"""The deploy runtime's safety layer: what stands between a planned action and the motors.

Every tick the executor's target for the followers (the policy's blended action, the leaders'
pose during a takeover, a park path, or the held command) goes through `SafetyFilter`:

1. **NaN/inf** — a target that is not finite is refused; the last command is held instead.
   (Chunks with NaN/inf are already refused whole by the ensembler; this is the second line.)
2. **Joint limits** — each arm's joints are clipped to the range calibration saw them move through
   (`calibration.JointMap.clip`).
3. **Ramp** — after a start, a release or a resumed plan, the command blends from where the arm
   was to the target over the ramp time (minimum-jerk), so nothing jumps to a far pose.
4. **Step limits** — no joint moves more than its per-tick step (`deploy.safety.max_step_rad`,
   `max_gripper_step`) from the previous command.

`Watchdog` says whether the plan is fresh: no chunk for `hold_after_s` → hold position; none for
`park_after_s` → park. Each refusal, clip or limit is reported as a `SafetyEvent` when it starts
(not every tick it lasts), and a clip or limit at most once a second per joint (a policy whose gripper
hovers at its limit starts a clip on every other tick); counters hold the totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from calibration.model import JointMap
from robot_stack.motion import Ramp, StepLimiter, first_non_finite
from robot_stack.rig.schema import WatchdogSpec

EVENT_INTERVAL_S = 1.0  # at most one "step limit" event a second, one "joint limit" a second per joint


@dataclass(frozen=True)
class SafetyEvent:
    t: float
    name: str  # nonfinite_command, joint_limit, step_limit, watchdog_hold, watchdog_park, ...
    severity: str  # info | warning | error
    detail: str


@dataclass(frozen=True)
class ArmLimits:
    """One follower arm's part of the command vector."""

    name: str
    joints: list[str]
    map: JointMap
    max_step: np.ndarray
    span: slice


class SafetyFilter:
    """Targets in, safe commands out, for the followers as one vector (arms in `arms` order)."""

    def __init__(self, arms: Sequence[ArmLimits], start: np.ndarray):
        self.arms = list(arms)
        self.names = [f"{a.name}/{j}" for a in self.arms for j in a.joints]
        max_step = np.concatenate([a.max_step for a in self.arms])
        self.limiter = StepLimiter(max_step, np.asarray(start, dtype=np.float64))
        self.ramp: Ramp | None = None
        self.counts: dict[str, int] = {}
        self._clipped: set[int] = set()
        self._last_limit_event = np.full(len(self.names), -np.inf)
        self._limiting = False
        self._last_step_event = -np.inf

    @property
    def last(self) -> np.ndarray:
        """The last command sent (or the start pose)."""
        return self.limiter.last.copy()

    def ramp_from(self, pose: np.ndarray, t: float, duration_s: float) -> None:
        """Blend from `pose` (also the step limiter's starting point) to the targets over `duration_s`."""
        self.limiter.reset(pose)
        self.ramp = Ramp(pose, t, duration_s) if duration_s > 0 else None

    def ramping(self, t: float) -> bool:
        return self.ramp is not None and not self.ramp.done(t)

    def __call__(self, target: np.ndarray, t: float) -> tuple[np.ndarray, list[SafetyEvent]]:
        events: list[SafetyEvent] = []
        target = np.asarray(target, dtype=np.float64)
        bad = first_non_finite(target)
        if bad is not None:
            self._count("nonfinite_command")
            events.append(
                SafetyEvent(
                    t,
                    "nonfinite_command",
                    "error",
                    f"target for {self.names[bad]} is {target[bad]}; holding the last command",
                )
            )
            target = self.limiter.last.copy()
        clipped = np.empty_like(target)
        for arm in self.arms:
            clipped[arm.span] = arm.map.clip(target[arm.span])
        events += self._limit_events(target, clipped, t)
        if self.ramp is not None:
            if self.ramp.done(t):
                self.ramp = None
            else:
                clipped = self.ramp(clipped, t)
        limited_before, previous = self.limiter.limited_ticks, self.limiter.last
        command = self.limiter(clipped)
        limiting = self.limiter.limited_ticks > limited_before
        if limiting:
            self._count("step_limited_ticks")
            if not self._limiting and t - self._last_step_event >= EVENT_INTERVAL_S:
                asked = np.abs(clipped - previous)
                worst = int(np.argmax(asked / self.limiter.max_step))
                events.append(
                    SafetyEvent(
                        t,
                        "step_limit",
                        "info",
                        f"{self.names[worst]} asked to move {asked[worst]:.3f} in one tick "
                        f"(limit {self.limiter.max_step[worst]:.3f}); slowed down",
                    )
                )
                self._last_step_event = t
        self._limiting = limiting
        return command, events

    def _limit_events(self, target: np.ndarray, clipped: np.ndarray, t: float) -> list[SafetyEvent]:
        now = set(np.flatnonzero(np.abs(target - clipped) > 1e-9).tolist())
        events = []
        for i in sorted(now - self._clipped):
            self._count("joint_limit")
            if t - self._last_limit_event[i] < EVENT_INTERVAL_S:
                continue
            self._last_limit_event[i] = t
            events.append(
                SafetyEvent(
                    t,
                    "joint_limit",
                    "warning",
                    f"{self.names[i]} target {target[i]:.3f} is outside its calibrated range; held at {clipped[i]:.3f}",
                )
            )
        if now:
            self._count("joint_limit_ticks")
        self._clipped = now
        return events

    def _count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1


@dataclass
class Watchdog:
    """Freshness of the plan: seconds since the last accepted chunk arrived (or since `reset`)."""

    spec: WatchdogSpec
    last_plan: float = 0.0
    holds: int = 0
    parks: int = 0
    _state: str = field(default="ok", repr=False)

    def reset(self, t: float) -> None:
        """Start counting from t (the policy takes over; no plan yet counts as none since t)."""
        self.last_plan = t
        self._state = "ok"

    def fresh(self, t: float) -> None:
        self.last_plan = t

    def since(self, t: float) -> float:
        return max(0.0, t - self.last_plan)

    def state(self, t: float) -> str:
        """ok | hold | park."""
        age = self.since(t)
        state = "park" if age > self.spec.park_after_s else "hold" if age > self.spec.hold_after_s else "ok"
        if state != self._state:
            self.holds += state == "hold"
            self.parks += state == "park"
        self._state = state
        return state
