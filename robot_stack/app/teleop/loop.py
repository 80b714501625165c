"""Leader-follower puppeteering: every tick, read all arms at once, send each follower its leader's pose.

Per tick (50 Hz on the rate loop's absolute deadlines):
  1. every arm's I/O thread reads its bus, all four at the same time (a follower's goal from the
     previous tick goes out first, in the same cycle);
  2. per pair, the leader's joints in the shared frame become the follower's target: inside the
     follower's calibrated range, ramped in from its own pose at start, and no joint moving more
     than its step limit per tick;
  3. each follower's goal goes to its I/O thread as one Sync Write.

The loop never waits on a dead bus: an arm that has not answered for `bus_deadline_s` stops it (the
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
from drivers.dynamixel.arm_thread import ArmIOError
from robot_stack.clock import Clock, MonotonicClock
from robot_stack.errors import RobotStackError
from robot_stack.motion import Park, Ramp, StepLimiter, start_gaps, step_sizes
from robot_stack.rate_loop import LoopStats, RateLoop
from robot_stack.rig.schema import RigSpec

BUS_DEADLINE_S = 0.05  # an arm silent this long stops the loop (the stop then lands within 100 ms)
LATENCY_HISTORY = 1 << 14


class TeleopRefused(RobotStackError):
    """The loop would not start: a leader is too far from its follower, ..."""


class TeleopFault(RobotStackError):
    """The loop stopped on a fault: an arm stopped answering, a motor raised an alert."""


class SilentArm(TeleopFault):
    def __init__(self, message: str, hint: str, arm: str):
        super().__init__(message, hint)
        self.arm = arm


@dataclass
class TickSample:
    """What one tick saw and did, for recording: joint order is pair by pair, follower joints."""

    t: float  # when the tick's readings were requested (monotonic)
    observation: np.ndarray  # followers' joint values
    action: np.ndarray  # the goals sent to the followers
    leader: np.ndarray  # the leaders' joint values
    follower_current: np.ndarray  # raw Present Current units


@dataclass
class PairState:
    leader: RigArm
    follower: RigArm
    limiter: StepLimiter
    ramp: Ramp | None = None
    rest: np.ndarray | None = None
    command: np.ndarray | None = None
    tracking_error: np.ndarray | None = None  # |leader - follower| per joint, last tick
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
    def __init__(
        self,
        rig: RigSpec,
        arms: RigArms,
        *,
        clock: Clock | None = None,
        ramp_in_s: float | None = None,
        bus_deadline_s: float = BUS_DEADLINE_S,
        rate_hz: float | None = None,
    ):
        self.rig = rig
        self.arms = arms
        self.clock = clock or MonotonicClock()
        self.safety = rig.deploy.safety
        self.ramp_in_s = self.safety.ramp_in_s if ramp_in_s is None else ramp_in_s
        self.bus_deadline_s = bus_deadline_s
        self.loop = RateLoop(rate_hz or rig.control_rate_hz, self.clock, priority=rig.realtime_priority)
        self.pairs: list[PairState] = []
        self.status = TeleopStatus()
        self.latencies = deque(maxlen=LATENCY_HISTORY)  # leader reading → follower goal written, s
        self.stopped_ticking_at: float | None = None  # monotonic time the tick loop ended
        self._late_since: dict[str, tuple[float, int]] = {}  # arm -> (since, failed attempts then)
        self._readings: dict[str, object] = {}

    # -- events --------------------------------------------------------------------------------
    def event(self, level: str, text: str) -> None:
        self.status.events.append(Event(time.monotonic(), level, text))

    # -- start ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Read every arm; refuse if a leader is too far from its follower; set up the ramp-in."""
        self.pairs = []
        refusals = []
        now = self.clock.now()
        for pair in self.rig.pairs:
            leader, follower = self.arms[pair.leader], self.arms[pair.follower]
            for name in (pair.leader, pair.follower):
                self._readings[name] = self.arms[name].io.read()
            q_leader = leader.map.to_values(self._readings[pair.leader].positions)
            q_follower = follower.map.to_values(self._readings[pair.follower].positions)
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
            spec = self.rig.arms[pair.follower]
            rest = np.array(spec.rest_pose) if spec.rest_pose is not None else q_follower.copy()
            self.pairs.append(
                PairState(
                    leader,
                    follower,
                    StepLimiter(step_sizes(spec, self.safety), q_follower),
                    ramp=Ramp(q_follower, now, self.ramp_in_s),
                    rest=follower.map.clip(rest),
                    command=q_follower.copy(),
                )
            )
        if refusals:
            raise TeleopRefused(
                "leaders too far from their followers to start (limit "
                f"{self.safety.max_start_error_rad:.2f} rad): " + "; ".join(refusals),
                hint="move each leader close to its follower's pose first (or raise "
                "deploy.safety.max_start_error_rad in the rig file)",
            )
        self.status.phase = "ramp" if self.ramp_in_s > 0 else "teleop"
        self.event("info", f"started; ramp-in over {self.ramp_in_s:.1f} s")

    # -- one tick ------------------------------------------------------------------------------
    def tick(self, t: float | None = None) -> TickSample:
        t = self.clock.now() if t is None else t
        self._check_alerts()
        with self.loop.section("bus_read"):
            readings = self._read_all()
        self._check_alerts()
        with self.loop.section("compute"):
            observation, action, leaders, currents = [], [], [], []
            ramping = False
            for state in self.pairs:
                q_leader = state.leader.map.to_values(readings[state.leader.name].positions)
                follower_reading = readings[state.follower.name]
                q_follower = state.follower.map.to_values(follower_reading.positions)
                self._note_latency(state)
                target = state.follower.map.clip(q_leader)
                if state.ramp is not None and not state.ramp.done(t):
                    target = state.ramp(target, t)
                    ramping = True
                command = state.limiter(target)
                state.command = command
                state.tracking_error = np.abs(q_leader - q_follower)
                state.pending_leader_t = readings[state.leader.name].t
                observation.append(q_follower)
                action.append(command)
                leaders.append(q_leader)
                currents.append(
                    follower_reading.currents
                    if follower_reading.currents is not None
                    else np.zeros(len(q_follower))
                )
            if not ramping and self.status.phase == "ramp":
                self.status.phase = "teleop"
                self.event("info", "ramp-in done: followers track their leaders")
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

    def _read_all(self):
        requested = time.monotonic()
        tickets = {name: a.io.request_read() for name, a in self.arms.arms.items()}
        deadline = requested + 0.8 / self.loop.rate_hz
        for name, ticket in tickets.items():
            io = self.arms[name].io
            try:
                reading = io.wait(ticket, timeout=max(0.0, deadline - time.monotonic()))
                self._readings[name] = reading
                self._late_since.pop(name, None)
            except TimeoutError:
                self._check_alerts()  # a motor that shut down explains a late arm better
                if self._late(name, requested):
                    raise SilentArm(
                        f"stopped: arm {name} gave no reading for {(time.monotonic() - self._late_since[name][0]) * 1000:.0f} ms",
                        hint=_BUS_HINT,
                        arm=name,
                    ) from None
            except ArmIOError as exc:
                raise TeleopFault(exc.message, hint=exc.hint or _BUS_HINT) from exc
        return self._readings

    def _late(self, name: str, requested_at: float) -> bool:
        """Whether an arm late with its reading counts as gone silent: late for `bus_deadline_s`
        with at least one attempt the bus gave up on (a reply past the rig's reply timeout), or
        late four times that long whatever the bus says."""
        if name not in self._readings:
            return True
        bus = self.arms[name].arm.bus.stats
        failed_attempts = bus.retries + bus.failures
        since, failed_before = self._late_since.setdefault(name, (requested_at, failed_attempts))
        late_for = time.monotonic() - since
        return (late_for >= self.bus_deadline_s and failed_attempts > failed_before) or (
            late_for >= 4 * self.bus_deadline_s
        )

    def _diagnose(self, fault: SilentArm) -> TeleopFault:
        """The loop has stopped; now give the bus its retries to say which motor went quiet."""
        io = self.arms[fault.arm].io
        try:
            io.wait(io.request_read(), timeout=1.0)
        except ArmIOError as exc:
            return TeleopFault(f"stopped: {exc.message}", hint=exc.hint or _BUS_HINT)
        except (TimeoutError, RuntimeError):
            pass
        return fault

    def _check_alerts(self) -> None:
        if not self.arms.alerted.is_set():
            return
        event = self.arms.alerts[0]
        raise TeleopFault(
            f"stopped: {event.label} on {event.port} reported {', '.join(event.errors)}; the motor turned its torque off",
            hint="find the cause (a blocked joint, a squeezed object, heat, supply voltage), then reboot the motor "
            "(`robot-stack motors reboot`) before starting again",
        )

    def _note_latency(self, state: PairState) -> None:
        written = state.follower.io.goal_written_t
        if state.pending_leader_t is not None and written is not None and written >= state.pending_leader_t:
            self.latencies.append(written - state.pending_leader_t)
            state.pending_leader_t = None

    # -- run and stop --------------------------------------------------------------------------
    def run(
        self,
        stop: threading.Event,
        *,
        duration_s: float | None = None,
        on_tick: Callable[[TickSample], None] | None = None,
        park: bool = True,
    ) -> LoopStats:
        """Start, tick until `stop` (or `duration_s`, or a fault), then park. A fault is re-raised
        after parking (TeleopFault), so the caller can report it."""
        self.start()
        self.status.running = True
        fault: BaseException | None = None
        try:
            for tick in self.loop.ticks(stop=stop, duration_s=duration_s):
                sample = self.tick(tick.start)
                if on_tick is not None:
                    on_tick(sample)
        except TeleopFault as exc:
            self.stopped_ticking_at = time.monotonic()
            fault = exc
            self.status.fault = exc.message
            self.event("error", exc.message)
        finally:
            if self.stopped_ticking_at is None:
                self.stopped_ticking_at = time.monotonic()
            self.status.running = False
            if park:
                self.park()
            self.status.phase = "stopped"
        if isinstance(fault, SilentArm):
            fault = self._diagnose(fault)
            self.status.fault = fault.message
            self.event("error", fault.message)
        if fault is not None:
            raise fault
        return self.loop.stats()

    def park(self) -> None:
        """Move every follower whose bus still works to its rest pose, slowly; then the torque policy."""
        healthy = [
            s for s in self.pairs if s.follower.io.is_running and s.follower.name not in self._late_since
        ]
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
        if not self.latencies:
            return {}
        values = np.array(self.latencies) * 1000
        return {
            "p50_ms": float(np.percentile(values, 50)),
            "p99_ms": float(np.percentile(values, 99)),
            "max_ms": float(values.max()),
        }


_BUS_HINT = (
    "check that arm's power and cable chain; `robot-stack motors scan --arm NAME` shows which motors answer"
)
