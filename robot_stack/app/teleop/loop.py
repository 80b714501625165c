"""Leader-follower puppeteering: every tick, read all arms at once, send each follower its leader's pose.

Per tick (50 Hz on the rate loop's absolute deadlines):
  1. every arm's I/O thread reads its bus, all four at the same time (a follower's goal from the
     previous tick goes out first, in the same cycle);
  2. per pair, the leader's joints in the shared frame become the follower's target: inside the
     follower's calibrated range, ramped in from its own pose at start, and no joint moving more
     than its step limit per tick;
  3. each follower's goal goes to its I/O thread as one Sync Write.

The loop never waits on a dead bus (`calibration.tick_reader`, shared with deploy): an arm that has not answered for `bus_deadline_s` stops it (the
bus's own diagnosis, naming the motor, follows); so does any motor's hardware-error alert. On stop the
followers park at their rest pose and torque is left as the rig file says.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from calibration.rig_arms import RigArm, RigArms
from calibration.tick_reader import BUS_DEADLINE_S, BusFault, TickReader
from drivers.dynamixel.arm_thread import ArmIOError
from robot_stack.app.teleop.perturbation import JointNoise
from robot_stack.clock import Clock, MonotonicClock
from robot_stack.errors import RobotStackError
from robot_stack.motion import Park, Ramp, StepLimiter, start_gaps, step_sizes
from robot_stack.rate_loop import LoopStats, RateLoop, SampleRing
from robot_stack.rig.schema import RigSpec

LATENCY_HISTORY = 1 << 14


class TeleopRefused(RobotStackError):
    """The loop would not start: a leader is too far from its follower, ..."""


class TeleopFault(RobotStackError):
    """The loop stopped on a fault: an arm stopped answering, a motor raised an alert."""


@dataclass
class TickSample:
    """What one tick saw and did, for recording: joint order is pair by pair, follower joints."""

    t: float  # when the tick's readings were requested (monotonic)
    observation: np.ndarray  # followers' joint values
    action: np.ndarray  # the goals for the followers (sent as they are, unless noise is injected)
    leader: np.ndarray  # the leaders' joint values
    follower_current: np.ndarray  # raw Present Current units


@dataclass
class PairState:
    leader: RigArm | None  # None when the goals come from elsewhere (replay)
    follower: RigArm
    limiter: StepLimiter
    ramp: Ramp | None = None
    rest: np.ndarray | None = None
    command: np.ndarray | None = None
    tracking_error: np.ndarray | None = None  # |where it should be - follower| per joint, last tick
    pending_leader_t: float | None = None  # capture time of the leader reading behind the last goal


@dataclass
class Event:
    t: float
    level: str  # info | warning | error
    text: str


@dataclass
class TeleopStatus:
    running: bool = False
    phase: str = "idle"  # idle | ramp | teleop | parking | stopped
    fault: str | None = None
    events: deque = field(default_factory=lambda: deque(maxlen=50))


class TeleopLoop:
    driving_phase = "teleop"  # the phase once the ramp-in is done

    def __init__(
        self,
        rig: RigSpec,
        arms: RigArms,
        *,
        clock: Clock | None = None,
        ramp_in_s: float | None = None,
        bus_deadline_s: float = BUS_DEADLINE_S,
        rate_hz: float | None = None,
        noise: JointNoise | None = None,
    ):
        self.rig = rig
        self.noise = noise  # offsets on the followers' goals once ramped in; the action stays clean
        self.arms = arms
        self.clock = clock or MonotonicClock()
        self.safety = rig.deploy.safety
        self.ramp_in_s = self.safety.ramp_in_s if ramp_in_s is None else ramp_in_s
        self.loop = RateLoop(rate_hz or rig.control_rate_hz, self.clock, priority=rig.realtime_priority)
        self.reader = TickReader(arms, list(arms.arms), self.loop.rate_hz, bus_deadline_s)
        self.pairs: list[PairState] = []
        self.status = TeleopStatus()
        self.latencies = SampleRing(LATENCY_HISTORY)  # leader reading → follower goal written, s
        self.stopped_ticking_at: float | None = None  # monotonic time the tick loop ended

    # -- events --------------------------------------------------------------------------------
    def event(self, level: str, text: str) -> None:
        self.status.events.append(Event(time.monotonic(), level, text))

    # -- start ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Read every arm; refuse if a leader is too far from its follower; set up the ramp-in."""
        readings = self._prime()
        now = self.clock.now()
        refusals = []
        self.pairs = []
        for pair in self.rig.pairs:
            leader, follower = self.arms[pair.leader], self.arms[pair.follower]
            q_leader = leader.map.to_values(readings[pair.leader].positions)
            q_follower = follower.map.to_values(readings[pair.follower].positions)
            for gap in start_gaps(
                follower.joint_names,
                q_follower,
                leader.map.clip(q_leader),
                self.safety.max_start_error_rad,
                skip=self.rig.arms[pair.follower].gripper,
            ):
                refusals.append(
                    f"{pair.follower}/{gap.joint} is {gap.distance:.2f} rad ({np.degrees(gap.distance):.0f}°) "
                    f"from {pair.leader}"
                )
            self.pairs.append(self._pair_state(leader, follower, q_follower, now))
        if refusals:
            raise TeleopRefused(
                "leaders too far from their followers to start (limit "
                f"{self.safety.max_start_error_rad:.2f} rad): " + "; ".join(refusals),
                hint="move each leader close to its follower's pose first (or raise "
                "deploy.safety.max_start_error_rad in the rig file)",
            )
        self._started()

    def _prime(self) -> dict:
        try:
            return self.reader.prime()
        except BusFault as exc:
            raise TeleopFault(f"stopped: {exc.message}", hint=exc.hint) from exc

    def _pair_state(
        self, leader: RigArm | None, follower: RigArm, q_follower: np.ndarray, now: float
    ) -> PairState:
        """A follower ramping in from where it stands, step-limited, with its rest pose for parking."""
        spec = self.rig.arms[follower.name]
        rest = np.array(spec.rest_pose) if spec.rest_pose is not None else q_follower.copy()
        return PairState(
            leader,
            follower,
            StepLimiter(step_sizes(spec, self.safety), q_follower),
            ramp=Ramp(q_follower, now, self.ramp_in_s),
            rest=follower.map.clip(rest),
            command=q_follower.copy(),
        )

    def _started(self) -> None:
        self.status.phase = "ramp" if self.ramp_in_s > 0 else self.driving_phase
        self.event("info", f"started; ramp-in over {self.ramp_in_s:.1f} s")

    def wanted(self, state: PairState, readings: dict, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(where the follower should go, where it should be now) for this tick: its leader's pose."""
        reading = readings[state.leader.name]
        q_leader = state.leader.map.to_values(reading.positions)
        self._note_latency(state)
        state.pending_leader_t = reading.t
        return q_leader, q_leader

    # -- one tick ------------------------------------------------------------------------------
    def tick(self, t: float | None = None) -> TickSample:
        t = self.clock.now() if t is None else t
        with self.loop.section("bus_read"):
            try:
                readings = self.reader.read()
            except BusFault as exc:
                raise _Stopped(exc) from exc
        with self.loop.section("compute"):
            observation, action, leaders, currents = [], [], [], []
            ramping = False
            for state in self.pairs:
                follower_reading = readings[state.follower.name]
                q_follower = state.follower.map.to_values(follower_reading.positions)
                goal, reference = self.wanted(state, readings, t)
                target = state.follower.map.clip(goal)
                pair_ramping = state.ramp is not None and not state.ramp.done(t)
                if pair_ramping:
                    target = state.ramp(target, t)
                    ramping = True
                if self.noise is not None and not pair_ramping:
                    # the offset goes through the step limiter with the goal; the action stays the goal
                    offset = self.noise.step(state.follower.name, t)
                    command = state.limiter(state.follower.map.clip(target + offset))
                    intended = target
                else:
                    command = intended = state.limiter(target)
                state.command = command
                state.tracking_error = np.abs(reference - q_follower)
                observation.append(q_follower)
                action.append(intended)
                leaders.append(goal)
                currents.append(
                    follower_reading.currents
                    if follower_reading.currents is not None
                    else np.zeros(len(q_follower))
                )
            if not ramping and self.status.phase == "ramp":
                self._ramp_done()
        with self.loop.section("bus_write"):
            for state in self.pairs:
                state.follower.io.submit_goal(state.follower.map.to_ticks(state.command))
        return TickSample(
            t=t,
            observation=np.concatenate(observation),
            action=np.concatenate(action),
            leader=np.concatenate(leaders),
            follower_current=np.concatenate(currents).astype(np.float32),
        )

    def _ramp_done(self) -> None:
        self.status.phase = self.driving_phase
        self.event("info", "ramp-in done: followers track their leaders")

    def _note_latency(self, state: PairState) -> None:
        written = state.follower.io.goal_written_t
        if state.pending_leader_t is not None and written is not None and written >= state.pending_leader_t:
            self.latencies.add(written - state.pending_leader_t)
            state.pending_leader_t = None

    # -- run and stop --------------------------------------------------------------------------
    def run(
        self,
        stop: threading.Event,
        *,
        duration_s: float | None = None,
        on_tick: Callable[[TickSample], None] | None = None,
        park: bool = True,
        before_park: Callable[[], None] | None = None,
    ) -> LoopStats:
        """Start, tick until `stop` (or `duration_s`, or a fault), then park. `before_park` runs once
        the ticks end, with the followers where they stopped (replay reads the task's outcome there).
        A fault is re-raised after parking (TeleopFault), so the caller can report it."""
        self.start()
        self.status.running = True
        fault: BaseException | None = None
        try:
            for tick in self.loop.ticks(stop=stop, duration_s=duration_s):
                sample = self.tick(tick.start)
                if on_tick is not None:
                    with self.loop.section("hand_off"):  # to the recorder's episode writer
                        on_tick(sample)
        except _Stopped as stopped:
            self.stopped_ticking_at = time.monotonic()
            fault = stopped.fault
            self.event("error", f"stopped: {fault.message}")
        finally:
            if self.stopped_ticking_at is None:
                self.stopped_ticking_at = time.monotonic()
            self.status.running = False
            if before_park is not None:
                try:
                    before_park()
                except Exception as exc:  # noqa: BLE001 — the followers park whatever happened
                    self.event("error", f"before parking: {exc}")
            if park:
                self.park(broken=fault.arm if fault is not None else None)
            self.status.phase = "stopped"
        if fault is not None:
            fault = self.reader.diagnose(fault)  # after parking: the bus's retries name the motor
            self.status.fault = f"stopped: {fault.message}"
            self.event("error", self.status.fault)
            raise TeleopFault(self.status.fault, hint=fault.hint)
        return self.loop.stats()

    def park(self, broken: str | None = None) -> None:
        """Move every follower whose bus still works to its rest pose, slowly; then the torque policy.
        `broken`: the arm whose bus failed, if a fault named one."""
        working = self.reader.still_working([s.follower.name for s in self.pairs], broken)
        healthy = [s for s in self.pairs if s.follower.name in working]
        if not healthy:
            return
        self.status.phase = "parking"
        self.event("info", f"parking over {self.safety.park_s:.1f} s")
        t0 = self.clock.now()
        paths = {s.follower.name: Park(s.command, s.rest, t0, self.safety.park_s) for s in healthy}
        park_loop = RateLoop(self.loop.rate_hz, self.clock, priority=self.rig.realtime_priority)
        try:
            for tick in park_loop.ticks(duration_s=self.safety.park_s + 2 / self.loop.rate_hz):
                for state in healthy:
                    state.command = state.limiter(paths[state.follower.name](tick.start))
                    state.follower.io.submit_goal(state.follower.map.to_ticks(state.command))
            if self.safety.torque_on_stop == "off":
                for state in healthy:
                    state.follower.io.wait(state.follower.io.request_read(), timeout=1.0)
                    state.follower.arm.set_torque(False)
        except (ArmIOError, TimeoutError) as exc:
            self.event("error", f"parking stopped: {exc}")
            return
        self.event(
            "info", "parked" + ("; torque off" if self.safety.torque_on_stop == "off" else "; holding")
        )

    # -- figures for the panel and the benchmark ---------------------------------------------------
    def latency_percentiles(self) -> dict[str, float]:
        values = self.latencies.values() * 1000  # a copy: the panel's percentiles never hold up a tick
        if not values.size:
            return {}
        return {
            "p50_ms": float(np.percentile(values, 50)),
            "p99_ms": float(np.percentile(values, 99)),
            "max_ms": float(values.max()),
        }


class _Stopped(Exception):
    """Carries a bus fault out of the tick loop, so parking happens before it is reported."""

    def __init__(self, fault: BusFault):
        super().__init__(fault.message)
        self.fault = fault
