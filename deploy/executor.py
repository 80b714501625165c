"""The 50 Hz execution thread (DESIGN.md §6): the only code that commands the followers while deployed.

Per tick, on the rate loop's absolute deadlines:

  1. read every arm at once (followers, and leaders for interventions) — `TickReader`: never waits on
     a dead bus, a silent arm or a motor alert is a `BusFault`;
  2. when the planner is ready for one (`ExecutorLink.ready`; and `plan_interval_s` since the last,
     if set), send it an observation: each policy
     camera's latest frame (never waits on a camera; a stalled camera sends nothing and the watchdog
     counts) with the followers' joints of the first tick at or after those frames' capture, stamped
     with that tick's time (`pair_frames`; otherwise this tick's joints);
  3. take the chunks that arrived into the `TemporalEnsembler` (NaN/inf chunks are refused there and
     logged as safety events; chunks planned for an earlier episode are dropped);
  4. the target for this tick: the ensembled action (policy), the leaders' pose (takeover), the park
     path, or the held command; the watchdog holds when no fresh plan came for `hold_after_s`, parks
     after `park_after_s`;
  5. `SafetyFilter`: NaN/inf, joint limits, ramp, step limits; one Sync Write per follower;
  6. leaders with torque on follow the followers; the tick is recorded; telemetry at 10 Hz.

Phases: idle → ramp → running ⇄ hold; takeover (the operator drives); parking → parked (waits for
`start`) or → stopped (exit: e-stop, SIGINT/SIGTERM). A bus fault stops ticking at once, parks the
arms whose bus still works and ends in `fault`.

Commands come from other threads (`submit`), are applied at the start of the next tick, and answered
once applied. `status()` is a snapshot refreshed with every telemetry message.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from calibration.rig_arms import RigArms
from calibration.tick_reader import BUS_DEADLINE_S, BusFault, TickReader
from deploy.control import TelemetryPublisher
from deploy.ensemble import Blend, ChunkRejected, TemporalEnsembler
from deploy.leaders import Leaders, LeaderState
from deploy.recorder import DeployRecorder
from deploy.safety import ArmLimits, SafetyFilter, Watchdog
from deploy.transport import ExecutorLink
from drivers.cameras import Camera, CameraStalled
from drivers.dynamixel.arm_thread import ArmIOError
from drivers.dynamixel.errors import DynamixelError
from robot_stack.clock import Clock, MonotonicClock
from robot_stack.errors import RobotStackError
from robot_stack.motion import Park, step_sizes
from robot_stack.rate_loop import LoopStats, RateLoop
from robot_stack.rig.schema import RigSpec
from robot_stack.wire import Observation

log = logging.getLogger("deploy")

DRIVING = ("ramp", "running", "hold")
RESUME_RAMP_S = 0.5  # after a hold, and at a takeover: blend into the new target this long
HISTORY = 500  # recent ticks / chunks the telemetry percentiles cover
PAIRING_TICKS = 25  # how far back (0.5 s at 50 Hz) a frame's joints are looked for


@dataclass
class ExecutorReport:
    stats: LoopStats
    phase: str
    fault: str | None
    events: list[dict]
    safety: dict[str, int]
    chunks: dict[str, Any]
    interventions: int
    runs: int


@dataclass
class _Pending:
    cmd: str
    args: dict
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[bool, str, dict] = (False, "", {})


class Executor:
    """`followers`: the follower arms in the policy's joint order; `policy_cameras`: the cameras the
    policy sees (all `cameras` are recorded). `leaders`: follow the followers and allow takeovers."""

    def __init__(
        self,
        rig: RigSpec,
        arms: RigArms,
        link: ExecutorLink,
        *,
        followers: list[str],
        cameras: dict[str, Camera] | None = None,
        policy_cameras: list[str] | None = None,
        mode: str = "ensemble",
        m: float = 0.01,
        execute_s: float = 0.0,
        fade_s: float = 0.0,
        publisher: TelemetryPublisher | None = None,
        recorder: DeployRecorder | None = None,
        leaders: bool = True,
        autostart: bool = True,
        ramp_in_s: float | None = None,
        bus_deadline_s: float = BUS_DEADLINE_S,
        clock: Clock | None = None,
        telemetry_every: int = 5,
        pair_frames: bool = True,
        plan_interval_s: float = 0.0,
    ):
        self.rig, self.arms, self.link = rig, arms, link
        self.pair_frames = pair_frames
        if plan_interval_s < 0:
            raise RobotStackError(
                f"plan interval {plan_interval_s * 1000:g} ms is negative",
                hint="0 plans whenever the planner is free",
            )
        self.plan_interval_s = plan_interval_s
        self._last_observation_t = -math.inf
        self._driving_since = -math.inf  # when this policy episode began
        self.safety_spec = rig.deploy.safety
        self.clock = clock or MonotonicClock()
        self.loop = RateLoop(rig.control_rate_hz, self.clock, priority=rig.realtime_priority)
        self.dt = self.loop.dt
        self.mode, self.m = mode, m
        self.ensembler = TemporalEnsembler(mode, m, tick_dt=self.dt, execute_s=execute_s, fade_s=fade_s)
        self.watchdog = Watchdog(rig.deploy.watchdog)
        self.cameras = dict(cameras or {})
        self.policy_cameras = list(policy_cameras if policy_cameras is not None else self.cameras)
        self.publisher, self.recorder = publisher, recorder
        self.autostart = autostart
        self.ramp_in_s = self.safety_spec.ramp_in_s if ramp_in_s is None else ramp_in_s
        self.telemetry_every = max(1, telemetry_every)
        self.followers = [arms[name] for name in followers]
        spans, start = [], 0
        for arm in self.followers:
            spans.append(slice(start, start + len(arm.joint_names)))
            start += len(arm.joint_names)
        self.spans = dict(zip(followers, spans, strict=True))
        self.limits = [
            ArmLimits(a.name, a.joint_names, a.map, step_sizes(rig.arms[a.name], self.safety_spec), span)
            for a, span in zip(self.followers, spans, strict=True)
        ]
        leader_of = {p.follower: p.leader for p in rig.pairs}
        self.leaders = Leaders(
            [
                LeaderState(arms[leader_of[a.name]], a, self.spans[a.name], lim.max_step)
                for a, lim in zip(self.followers, self.limits, strict=True)
                if leaders and a.name in leader_of and leader_of[a.name] in arms.arms
            ]
        )
        names = [a.name for a in self.followers] + self.leaders.names
        self.reader = TickReader(arms, names, self.loop.rate_hz, bus_deadline_s)
        # state (executor thread)
        self.phase = "idle"
        self.episode = 0  # the policy's episode: a new one at every start and release
        self.runs = 0  # start → park runs (recorded episodes)
        self.interventions = 0
        self.command: np.ndarray | None = None
        self.q: np.ndarray | None = None
        self.rest: np.ndarray | None = None
        self.safety: SafetyFilter | None = None
        self.blend: Blend | None = None
        self.fault: str | None = None
        self.stopped_ticking_at: float | None = None
        self._park: Park | None = None
        self._after_park = "parked"
        self._awaiting_plan = False
        self._hold_since = 0.0
        self._success: bool | None = None
        self._stalled: set[str] = set()
        self._obs_seq = 0
        self._ticks = 0
        self._last_t: float | None = None
        self._periods: deque[float] = deque(maxlen=HISTORY)
        self._busy: deque[float] = deque(maxlen=HISTORY)
        self._latency: deque[float] = deque(maxlen=HISTORY)  # observation capture → chunk arrival
        self._compute: deque[float] = deque(maxlen=HISTORY)
        # tick time minus its frame's capture time, per policy camera: how old the picture a plan
        # starts from is next to its joints (training pairs them by the same rule, store/align.py)
        self._frame_age = {name: deque(maxlen=HISTORY) for name in self.policy_cameras}
        # Recent ticks' joints, to pair frames with: a frame reaches the executor a tick or two after
        # its capture, and training paired each tick with the latest frame captured at or before it.
        self._recent_q: deque[tuple[float, np.ndarray]] = deque(maxlen=PAIRING_TICKS)
        self._joints_after_frame: deque[float] = deque(maxlen=HISTORY)
        self.chunks_accepted = 0
        self.chunks_stale = 0
        self.events: deque[dict] = deque(maxlen=200)
        self.event_counts: dict[str, int] = {}
        # shared with other threads
        self._commands: queue.Queue[_Pending] = queue.Queue()
        self._alive = threading.Event()
        self._ended = threading.Event()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._snapshot: dict[str, Any] = {"phase": "idle", "alive": False}

    # -- other threads ---------------------------------------------------------------------------
    def submit(self, cmd: str, args: dict | None = None, timeout_s: float = 2.0) -> tuple[bool, str, dict]:
        """Hand a command (start, stop, estop, takeover, release) to the loop; (ok, error, data) once applied."""
        if self._ended.is_set() or not self._alive.is_set():
            return False, f"the runtime is not running (phase {self.phase})", {}
        pending = _Pending(cmd, dict(args or {}))
        self._commands.put(pending)
        if not pending.done.wait(timeout_s):
            return False, f"the control loop did not take {cmd!r} within {timeout_s:g} s", {}
        return pending.result

    def status(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._snapshot)

    def wait_for(self, phases: tuple[str, ...], timeout_s: float) -> bool:
        """Block until the phase is one of `phases` (or the loop ended); whether it got there."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._snapshot.get("phase") not in phases:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._ended.is_set():
                    return self._snapshot.get("phase") in phases
                self._changed.wait(min(remaining, 0.1))
        return True

    def wait_alive(self, timeout_s: float) -> bool:
        """Block until the loop is ticking (or ended); whether it is."""
        deadline = time.monotonic() + timeout_s
        while not self._alive.is_set() and not self._ended.is_set() and time.monotonic() < deadline:
            self._alive.wait(0.05)
        return self._alive.is_set()

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    # -- the loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> ExecutorReport:
        """Tick until the runtime exits (e-stop, or `stop` set: a controlled park first). Raises
        BusFault after parking what still works when a bus fails."""
        fault: BaseException | None = None
        ticks = self.loop.ticks()
        try:
            self._begin(self.clock.now())
            self._alive.set()
            for tick in ticks:
                if stop.is_set() and self._after_park != "exit":
                    self._shutdown(tick.start, "stop requested")
                self._tick(tick.start)
                if self.phase == "stopped":
                    break
        except BaseException as exc:  # noqa: BLE001 — the arms are parked first, then it is raised
            self.stopped_ticking_at = time.monotonic()
            fault = exc
        finally:
            ticks.close()
            self._alive.clear()
            self._answer_pending("the runtime stopped")
        if fault is not None:
            fault = self._after_fault(fault)
        self._ended.set()
        self._publish_status(self.clock.now())
        if fault is not None:
            raise fault
        return self.report()

    def _begin(self, t: float) -> None:
        readings = self.reader.prime()
        q = self._follower_values(readings)
        self.q, self.command = q, q.copy()
        self.safety = SafetyFilter(self.limits, q)
        rest = []
        for arm, span in zip(self.followers, self.spans.values(), strict=True):
            pose = self.rig.arms[arm.name].rest_pose
            rest.append(arm.map.clip(np.asarray(pose)) if pose is not None else q[span])
        self.rest = np.concatenate(rest)
        self.leaders.want(True)
        self.leaders.sync_torque(readings, self.reader.fresh)
        self._event(
            t,
            "ready",
            "info",
            f"{len(self.followers)} followers, {len(self.leaders.pairs)} leaders following",
        )
        if self.autostart:
            self._start_driving(t, new_run=True)
        self._publish_status(t)

    def _tick(self, t: float) -> None:
        started = time.perf_counter()
        if self._last_t is not None:
            self._periods.append(t - self._last_t)
        self._last_t = t
        with self.loop.section("bus_read"):
            readings = self.reader.read()
        self.leaders.sync_torque(readings, self.reader.fresh)
        self._apply_commands(t, readings)
        q = self.q = self._follower_values(readings)
        self._recent_q.append((t, q))
        with self.loop.section("plan"):
            if self.phase in DRIVING:
                self._send_observation(t, q)
            self._poll_chunks()
            target = self._target(t, readings)
        command, events = self.safety(target, t)
        for event in events:
            self._event(event.t, event.name, event.severity, event.detail)
        self.command = command
        with self.loop.section("bus_write"):
            for arm in self.followers:
                arm.io.submit_goal(arm.map.to_ticks(command[self.spans[arm.name]]))
            if self.phase != "takeover":
                self.leaders.follow(readings)
        if self.phase == "parking" and self._park is not None and self._park.done(t):
            self._finish_park(t)
        if self.recorder is not None and self.recorder.recording:
            self.recorder.tick(t, q, command, self.phase == "takeover")
        self._ticks += 1
        self._busy.append(time.perf_counter() - started)
        if self._ticks % self.telemetry_every == 0:
            self._publish_status(t)

    def _follower_values(self, readings) -> np.ndarray:
        return np.concatenate([a.map.to_values(readings[a.name].positions) for a in self.followers])

    # -- planning ----------------------------------------------------------------------------------
    def _send_observation(self, t: float, q: np.ndarray) -> None:
        # the interval is kept here, not in the planner, so the observation a plan starts from is fresh
        if not self.link.ready() or t - self._last_observation_t < self.plan_interval_s - 1e-6:
            return
        images, t_images = {}, {}
        for name in self.policy_cameras:
            camera = self.cameras[name]
            try:
                frame = camera.latest()
            except CameraStalled as exc:
                if name not in self._stalled:
                    self._stalled.add(name)
                    self._event(
                        t, "camera_stalled", "warning", f"{exc.message}; no observations until it recovers"
                    )
                return
            # A frame from before the episode began shows the scene as it was then (a reset in
            # progress, the last episode's objects): the first plan waits for one taken since.
            if frame is None or frame.t_host < self._driving_since:
                return
            if name in self._stalled:
                self._stalled.discard(name)
                self._event(t, "camera_recovered", "info", f"camera '{name}' delivers again")
            images[name], t_images[name] = frame.image, frame.t_host
            self._frame_age[name].append(t - frame.t_host)
        t_obs, q_obs = self._joints_for(t_images) if self.pair_frames else (t, q)
        if t_images:
            self._joints_after_frame.append(t_obs - max(t_images.values()))
        self._obs_seq += 1
        self._last_observation_t = t
        delay = float(np.percentile(self._latency, 90)) if self._latency else None
        observation = Observation(
            t_obs, q_obs.astype(np.float32), images, self._obs_seq, self.episode, t_images, delay
        )
        self.link.send_observation(observation)

    def _joints_for(self, t_images: dict[str, float]) -> tuple[float, np.ndarray]:
        """The tick, and its joints, that the frames belong with: the first at or after the newest
        frame's capture, so every frame was captured at or before it, as in training. Its chunk is
        stamped with that tick's time, and the ensembler skips the actions already past."""
        captured = max(t_images.values(), default=math.inf)
        for t, q in self._recent_q:
            if t >= captured:
                return t, q
        return self._recent_q[-1]

    def _poll_chunks(self) -> None:
        chunks = self.link.poll()
        arrival = self.clock.now()
        while self.link.events:
            event = self.link.events.popleft()
            if event.name == "observation_dropped":
                self._event(arrival, "observation_dropped", "warning", f"planner: {event.detail}")
        for chunk in chunks:
            if chunk.episode != self.episode or self.phase not in DRIVING:
                self.chunks_stale += 1  # planned before a takeover, a park or a restart
                continue
            try:
                self.ensembler.add_chunk(chunk, arrived=arrival)
            except ChunkRejected as exc:
                self._event(
                    arrival, "chunk_rejected", "error", f"chunk {chunk.seq} refused ({exc.reason}): {exc}"
                )
                continue
            self.chunks_accepted += 1
            self.watchdog.fresh(arrival)
            self._awaiting_plan = False
            self._latency.append(arrival - chunk.t0)
            if chunk.compute_s is not None:
                self._compute.append(chunk.compute_s)

    def _target(self, t: float, readings) -> np.ndarray:
        if self.phase == "takeover":
            return self.leaders.target(readings, self.command)
        if self.phase == "parking":
            return self._park(t)
        if self.phase not in DRIVING:
            return self.command  # idle, parked: hold
        blend = self.blend = self.ensembler.sample(t)
        self.ensembler.prune(t)
        state = self.watchdog.state(t)
        since = self.watchdog.since(t)
        if state == "park":
            self._event(
                t,
                "watchdog_park",
                "error",
                f"no fresh plan for {since:.2f} s (park_after_s {self.watchdog.spec.park_after_s:g}); parking",
            )
            self._begin_park(t, "watchdog", then="parked")
            return self._park(t)
        if state == "hold" or blend is None:
            if self._awaiting_plan and state == "ok":
                return self.command  # the first chunk is on its way
            if self.phase != "hold":
                why = (
                    f"no fresh plan for {since:.2f} s (hold_after_s {self.watchdog.spec.hold_after_s:g})"
                    if state == "hold" or self._awaiting_plan
                    else "no chunk covers this tick (the plan ran out)"
                )
                self._event(t, "watchdog_hold", "warning", f"{why}; holding position")
                self.phase = "hold"
                self._hold_since = t
                self.safety.ramp = None
            return self.command
        if self.phase == "hold":
            self._event(
                t, "plan_resumed", "info", f"fresh plan after holding {t - self._hold_since:.2f} s; resuming"
            )
            self.safety.ramp_from(self.command, t, min(RESUME_RAMP_S, self.ramp_in_s))
            self.phase = "ramp"
        if self.phase == "ramp" and not self.safety.ramping(t):
            self.phase = "running"
        return blend.action

    # -- phases ----------------------------------------------------------------------------------
    def _start_driving(self, t: float, new_run: bool) -> None:
        self.episode += 1
        self._driving_since = t
        self.ensembler.clear()
        self.watchdog.reset(t)
        self._awaiting_plan = True
        self.safety.ramp_from(self.command, t, self.ramp_in_s)
        self.leaders.want(True)
        self.phase = "ramp"
        if new_run:
            self.runs += 1
            self._success = None
            if self.recorder is not None:
                self.recorder.begin({"mode": self.mode, "m": self.m, "run": self.runs})
        self._event(t, "policy_drives", "info", f"episode {self.episode}: ramp-in over {self.ramp_in_s:g} s")

    def _begin_park(self, t: float, reason: str, then: str) -> None:
        if self.phase == "parking":
            self._after_park = "exit" if then == "exit" else self._after_park
            return
        if self.phase in ("parked", "idle") and then == "parked":
            return
        self.ensembler.clear()
        self.safety.ramp = None
        self.leaders.want(True)
        self._park = Park(self.command, self.rest, t, self.safety_spec.park_s)
        self._after_park = then
        self.phase = "parking"
        self._event(t, "park", "info", f"parking over {self.safety_spec.park_s:g} s ({reason})")

    def _shutdown(self, t: float, reason: str) -> None:
        """Park (unless parked already), then the torque policy, then the loop ends."""
        if self.phase in ("idle", "parked"):
            self._after_park = "exit"
            self._torque_policy()
            self.leaders.release_torque()
            self.phase = "stopped"
            self._event(t, "stopped", "info", f"{reason}{self._torque_text()}")
        else:
            self._begin_park(t, reason, then="exit")

    def _finish_park(self, t: float) -> None:
        if self.recorder is not None and self.recorder.recording:
            self.recorder.end("complete", success=self._success)
        if self._after_park == "exit":
            self._torque_policy()
            self.leaders.release_torque()
            self.phase = "stopped"
            self._event(t, "stopped", "info", "parked" + self._torque_text())
        else:
            self.phase = "parked"
            self._event(t, "parked", "info", "parked; `robot-stack ctl start` drives again")

    def _torque_text(self) -> str:
        return "; follower torque off" if self.safety_spec.torque_on_stop == "off" else "; followers holding"

    def _torque_policy(self, arms=None) -> None:
        if self.safety_spec.torque_on_stop != "off":
            return
        for arm in arms if arms is not None else self.followers:
            try:
                arm.io.wait(arm.io.request_read(), timeout=1.0)
                arm.arm.set_torque(False)
            except (DynamixelError, RobotStackError, TimeoutError, RuntimeError) as exc:
                self._event(self.clock.now(), "torque_off_failed", "error", f"{arm.name}: {exc}")

    # -- commands --------------------------------------------------------------------------------
    def _apply_commands(self, t: float, readings) -> None:
        while True:
            try:
                pending = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                pending.result = self._apply(pending.cmd, pending.args, t, readings)
            except RobotStackError as exc:
                pending.result = (False, exc.message, {})
            pending.done.set()

    def _apply(self, cmd: str, args: dict, t: float, readings) -> tuple[bool, str, dict]:
        phase = self.phase
        if "success" in args:
            self._success = bool(args["success"]) if args["success"] is not None else None
        if cmd == "start":
            if phase in ("idle", "parked"):
                self._start_driving(t, new_run=True)
            elif phase == "parking":
                return False, "parking; send start again once parked", {"phase": phase}
            return True, "", {"phase": self.phase, "episode": self.episode}
        if cmd == "stop":
            if phase in (*DRIVING, "takeover"):
                self._begin_park(t, "stop command", then="parked")
            return True, "", {"phase": self.phase}
        if cmd == "estop":
            self._event(t, "estop", "error", "e-stop: parking, then the torque policy, then exit")
            self._shutdown(t, "e-stop")
            return True, "", {"phase": self.phase}
        if cmd == "takeover":
            if not self.leaders:
                return False, "no leader arms to take over with (rig pairs, or --no-leaders)", {}
            if phase == "parking":
                return False, "parking; take over once parked", {"phase": phase}
            if phase != "takeover":
                self.phase = "takeover"
                self.ensembler.clear()
                self.leaders.want(False)
                self.safety.ramp_from(self.command, t, min(RESUME_RAMP_S, self.ramp_in_s))
                self.interventions += 1
                self._event(t, "takeover", "info", "the operator drives with the leader arms")
            return True, "", {"phase": self.phase}
        if cmd == "release":
            if phase != "takeover":
                return False, f"not taken over (phase {phase})", {"phase": phase}
            recording = self.recorder is not None and self.recorder.recording
            self._start_driving(t, new_run=not recording)
            self._event(t, "release", "info", "the policy drives again from the current pose")
            return True, "", {"phase": self.phase, "episode": self.episode}
        return False, f"unknown command {cmd!r}", {}

    def _answer_pending(self, why: str) -> None:
        while True:
            try:
                pending = self._commands.get_nowait()
            except queue.Empty:
                return
            pending.result = (False, why, {})
            pending.done.set()

    # -- faults ----------------------------------------------------------------------------------
    def _after_fault(self, fault: BaseException) -> BaseException:
        t = self.clock.now()
        message = fault.message if isinstance(fault, RobotStackError) else f"{type(fault).__name__}: {fault}"
        self.phase = "fault"
        self.fault = message
        self._event(t, "fault", "error", f"stopped: {message}")
        self._park_what_works(broken=fault.arm if isinstance(fault, BusFault) else None)
        if isinstance(fault, BusFault):
            fault = self.reader.diagnose(fault)
            if fault.message != message:
                self.fault = fault.message
                self._event(self.clock.now(), "fault", "error", f"diagnosis: {fault.message}")
        if self.recorder is not None and self.recorder.recording:
            self.recorder.end("fault", success=False, extra={"fault": self.fault})
        if isinstance(fault, BusFault):
            return BusFault(f"deploy stopped: {fault.message}", fault.hint, arm=fault.arm)
        return fault

    def _park_what_works(self, broken: str | None) -> None:
        """After a fault: the followers whose bus still works go to rest slowly; then the torque policy.
        `broken` is the arm whose bus failed, if the fault names one."""
        if self.command is None or self.rest is None:
            return
        working = self.reader.still_working([a.name for a in self.followers], broken)
        healthy = [a for a in self.followers if a.name in working]
        if not healthy:
            return
        self._event(self.clock.now(), "park", "info", f"parking {', '.join(a.name for a in healthy)}")
        t0 = self.clock.now()
        path = Park(self.command, self.rest, t0, self.safety_spec.park_s)
        limiter = self.safety.limiter if self.safety is not None else None
        park_loop = RateLoop(self.loop.rate_hz, self.clock, priority=self.rig.realtime_priority)
        try:
            for tick in park_loop.ticks(duration_s=self.safety_spec.park_s + 2 * self.dt):
                command = path(tick.start)
                if limiter is not None:
                    command = limiter(command)
                for arm in healthy:
                    arm.io.submit_goal(arm.map.to_ticks(arm.map.clip(command[self.spans[arm.name]])))
            self._torque_policy(healthy)
        except (ArmIOError, TimeoutError, RuntimeError) as exc:
            self._event(self.clock.now(), "park_failed", "error", f"parking stopped: {exc}")
            return
        self.leaders.release_torque()
        self._event(self.clock.now(), "parked", "info", "parked" + self._torque_text())

    # -- events and telemetry ---------------------------------------------------------------------
    def _event(self, t: float, name: str, severity: str, detail: str) -> None:
        self.event_counts[name] = self.event_counts.get(name, 0) + 1
        self.events.append({"t": t, "name": name, "severity": severity, "detail": detail})
        level = {"info": logging.INFO, "warning": logging.WARNING}.get(severity, logging.ERROR)
        log.log(level, "%s: %s", name, detail)
        if self.publisher is not None:
            self.publisher.event(t, name, severity, detail)

    def _publish_status(self, t: float) -> None:
        data = self._telemetry(t)
        with self._changed:
            self._snapshot = data
            self._changed.notify_all()
        if self.publisher is not None:
            self.publisher.publish(t, data)

    def _telemetry(self, t: float) -> dict[str, Any]:
        blend = self.blend if self.phase in DRIVING else None
        safety = dict(self.safety.counts) if self.safety is not None else {}
        safety.update({f"chunk_rejected_{k}": v for k, v in self.ensembler.rejected.items()})
        safety.update(watchdog_holds=self.watchdog.holds, watchdog_parks=self.watchdog.parks)
        link = self.link.stats()
        return {
            "phase": self.phase,
            "alive": self._alive.is_set() and not self._ended.is_set(),
            "fault": self.fault,
            "episode": self.episode,
            "runs": self.runs,
            "mode": self.mode,
            "m": self.m,
            "execute_s": self.ensembler.execute_s,
            "fade_s": self.ensembler.fade_s,
            "ticks": self._ticks,
            "rate_hz": self.loop.rate_hz,
            "period_ms": _percentiles(self._periods),
            "busy_ms": _percentiles(self._busy),
            "overruns": self.loop.overruns,
            "skipped_ticks": self.loop.skipped_ticks,
            "planner_latency_ms": _percentiles(self._latency),
            "compute_ms": _percentiles(self._compute),
            "frame_age_ms": {name: _percentiles(ages) for name, ages in self._frame_age.items()},
            # observation joints' time minus its newest frame's capture: within a tick when paired
            "joints_after_frame_ms": _percentiles(self._joints_after_frame),
            "chunk_age_ms": None if blend is None else 1000 * blend.newest_age_s,
            "depth": 0 if blend is None else blend.depth,
            "since_plan_ms": 1000 * self.watchdog.since(t) if self.phase in DRIVING else None,
            "chunks": {
                "accepted": self.chunks_accepted,
                "stale": self.chunks_stale,
                "held": len(self.ensembler.chunks),
                "rejected": dict(self.ensembler.rejected),
            },
            "link": {
                "endpoint": link["endpoint"],
                "sent": link["sent"],
                "in_flight": link["in_flight"],
                "given_up": link["given_up"],
                "send_refused": link["send_refused"],
                "dropped": link["dropped"],
            },
            "safety": safety,
            "events": list(self.events)[-8:],
            "event_counts": dict(self.event_counts),
            "interventions": self.interventions,
            "bus_ms": {a.name: 1000 * a.io.last_cycle_s for a in self.arms.arms.values()},
            "late_reads": self.reader.late_ticks,
            "cameras": {n: {"stalled": n in self._stalled} for n in self.cameras},
            "recording": None
            if self.recorder is None
            else {"path": str(self.recorder.path), "episode_open": self.recorder.recording},
        }

    def report(self) -> ExecutorReport:
        return ExecutorReport(
            stats=self.loop.stats(),
            phase=self.phase,
            fault=self.fault,
            events=list(self.events),
            safety=dict(self.safety.counts) if self.safety is not None else {},
            chunks={
                "accepted": self.chunks_accepted,
                "stale": self.chunks_stale,
                "rejected": dict(self.ensembler.rejected),
            },
            interventions=self.interventions,
            runs=self.runs,
        )


def _percentiles(values) -> dict[str, float] | None:
    if not values:
        return None
    ms = np.asarray(values) * 1000
    out = {
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
        "last": float(ms[-1]),
    }
    return {k: v if math.isfinite(v) else None for k, v in out.items()}
