"""The deploy daemon: planner, executor, command socket and telemetry, wired together (DESIGN.md §6).

    daemon = DeployDaemon(rig, calibrations, DeploySettings(checkpoint="runs/act")).open()
    try:
        daemon.start()                 # the executor thread ticks; the policy drives (autostart)
        daemon.join()                  # until e-stop / stop; raises BusFault after a bus fault
    finally:
        daemon.close()

Threads: the planner (local: `Planner` over `inproc://`; or `--remote`: a `robot-stack policy-server`
elsewhere, reached over tcp with Curve keys), the 50 Hz executor (`Executor`), the command server (REP
on the rig's command endpoint), plus each arm's bus thread and each camera's capture thread.

`open()` checks everything before a motor moves: the checkpoint against the rig (cameras, follower
arms and joint counts), the calibrations, the endpoints (a network endpoint without Curve keys is
refused); then loads and warms the policy, opens arms and cameras, and binds the sockets.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calibration.model import ArmCalibration
from calibration.rig_arms import RigArms
from calibration.tick_reader import BUS_DEADLINE_S
from deploy.control import CommandServer, TelemetryPublisher
from deploy.ensemble import MODES
from deploy.executor import Executor, ExecutorReport
from deploy.planner import Planner
from deploy.recorder import DeployRecorder
from deploy.transport import ExecutorLink, PlannerLink
from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import RigSpec
from robot_stack.wire import Command, Reply

log = logging.getLogger("deploy")


@dataclass
class DeploySettings:
    checkpoint: Path | None = None  # run or checkpoint folder; optional with `remote` (then: the rig's)
    mode: str = "ensemble"  # ensemble | latest | rtc
    m: float = 0.01  # ensembling weight rate (per tick)
    execute_s: float = 0.0  # latest mode: run each chunk this long before a newer one replaces it
    fade_s: float = 0.0  # ensemble mode: fade each chunk in after it arrives and out at its end
    remote: str | None = None  # tcp://HOST:PORT of a policy-server; None: plan in this process
    keys_dir: Path | None = None  # Curve keys; None: the rig file's deploy.curve_keys_dir
    device: str = "cpu"
    steps: int | None = None  # sampler steps (diffusion / flow)
    added_latency_s: float = 0.0  # hold every chunk back (latency benchmarks; local planner)
    plan_interval_s: float = (
        0.0  # send the planner an observation at most this often (0: whenever it is free)
    )
    record_to: Path | None = None  # dataset to record the deployment into
    task: str = "deploy"  # the episode's task name when recording
    autostart: bool = True  # the policy drives at once (False: wait for `ctl start`)
    leaders: bool = True  # leaders follow the followers; takeover possible
    ramp_in_s: float | None = None  # None: the rig file's
    bus_deadline_s: float = BUS_DEADLINE_S
    plan_endpoint: str | None = None  # None: the rig file's (inproc://plan)
    command_endpoint: str | None = None
    telemetry_endpoint: str | None = None
    camera_options: dict[str, dict] = field(default_factory=dict)  # per camera, to the driver
    pair_frames: bool = True  # joints of the tick after the frames' capture (False: the newest tick's)


class DeployDaemon:
    def __init__(
        self,
        rig: RigSpec,
        calibrations: dict[str, ArmCalibration],
        settings: DeploySettings,
        *,
        policy: Any = None,
    ):
        """`policy`: a ready policy object (tests, the replay policy); otherwise loaded from the checkpoint."""
        self.rig, self.calibrations, self.settings = rig, calibrations, settings
        self.policy = policy
        self.spec = getattr(policy, "spec", None)
        self.planner: Planner | None = None
        self.link: ExecutorLink | None = None
        self.arms: RigArms | None = None
        self.cameras: dict = {}
        self.recorder: DeployRecorder | None = None
        self.publisher: TelemetryPublisher | None = None
        self.commands: CommandServer | None = None
        self.executor: Executor | None = None
        self.warmup_ms: float | None = None
        self.report: ExecutorReport | None = None
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._stack = contextlib.ExitStack()

    # -- opening -------------------------------------------------------------------------------
    def open(self) -> DeployDaemon:
        try:
            self._open()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _open(self) -> None:
        s, rig = self.settings, self.rig
        keys = keys_dir(rig, s)
        check_settings(rig, s)
        self._load_policy()
        followers = list(self.spec.arms) if self.spec is not None else list(rig.arms_with_role("follower"))
        cameras = list(self.spec.cameras) if self.spec is not None else list(rig.cameras)
        leader_of = {p.follower: p.leader for p in rig.pairs}
        leaders = [leader_of[f] for f in followers if s.leaders and f in leader_of]
        missing = [a for a in followers + leaders if a not in self.calibrations]
        if missing:
            raise RobotStackError(
                f"no calibration for arm(s) {', '.join(missing)}", hint="run `robot-stack calibrate` first"
            )
        state_dim = sum(len(rig.arms[f].motors) for f in followers)
        # sockets first: a refused endpoint fails before any motor is touched
        self.link = ExecutorLink(
            s.remote or s.plan_endpoint or rig.deploy.plan_endpoint,
            keys_dir=keys if s.remote else None,
            action_dim=state_dim,
        )
        if s.remote is None:
            link = PlannerLink(self.link.endpoint, state_dim=state_dim, cameras=cameras)
            self.planner = Planner(
                self.policy,
                link,
                mode=s.mode,
                policy_id=Path(s.checkpoint).name if s.checkpoint else type(self.policy).__name__,
                added_latency_s=s.added_latency_s,
                tick_dt=1.0 / rig.control_rate_hz,
            )
        self.publisher = TelemetryPublisher(
            s.telemetry_endpoint or rig.deploy.telemetry_endpoint, keys_dir=keys
        )
        self.commands = CommandServer(
            s.command_endpoint or rig.deploy.command_endpoint, self._handle, keys_dir=keys
        )
        if self.policy is not None and hasattr(self.policy, "warmup"):
            self.warmup_ms = 1000 * self.policy.warmup()
        # then the robot
        self.arms = self._stack.enter_context(RigArms(rig, self.calibrations, names=followers + leaders))
        self._open_cameras(cameras)
        if s.record_to is not None:
            self.recorder = DeployRecorder(
                s.record_to,
                rig,
                task=s.task,
                cameras=self.cameras,
                joint_names=[f"{f}/{j}" for f in followers for j in rig.arms[f].motors],
                calibration={n: c.model_dump(mode="json") for n, c in self.calibrations.items()},
                extra={"checkpoint": str(s.checkpoint) if s.checkpoint else None, "remote": s.remote},
            ).open()
            self._stack.callback(self.recorder.close)
        self._stack.enter_context(self.publisher)
        if self.planner is not None:
            self.planner.start()
            self._stack.callback(self.planner.stop)
        self._stack.enter_context(self.link)
        self.executor = Executor(
            rig,
            self.arms,
            self.link,
            followers=followers,
            cameras=self.cameras,
            policy_cameras=cameras,
            mode=s.mode,
            m=s.m,
            execute_s=s.execute_s,
            fade_s=s.fade_s,
            publisher=self.publisher,
            recorder=self.recorder,
            leaders=s.leaders,
            autostart=s.autostart,
            ramp_in_s=s.ramp_in_s,
            bus_deadline_s=s.bus_deadline_s,
            pair_frames=s.pair_frames,
            plan_interval_s=s.plan_interval_s,
        )
        self._stack.enter_context(self.commands)

    def _load_policy(self) -> None:
        s = self.settings
        if self.policy is None and s.remote is None:
            if s.checkpoint is None:
                raise RobotStackError("deploy needs --checkpoint (or --remote to use a policy server)")
            from policies import Policy

            self.policy = Policy.load(s.checkpoint, device=s.device, steps=s.steps)
            self.spec = self.policy.spec
        elif self.policy is None and s.checkpoint is not None:
            from policies.checkpoint import load_checkpoint

            self.spec = load_checkpoint(s.checkpoint).spec  # the server runs it; check it fits here
        if self.spec is not None:
            self.spec.check_rig(
                self.rig, source=f"checkpoint {s.checkpoint}" if s.checkpoint else "the policy"
            )
        if s.mode == "rtc" and self.policy is not None and not getattr(self.policy, "supports_prefix", False):
            raise RobotStackError(
                "--mode rtc (real-time chunking) needs a diffusion or flow policy; this one is "
                f"{getattr(self.policy, 'kind', type(self.policy).__name__)}",
                hint="use --mode ensemble or --mode latest with ACT",
            )

    def _open_cameras(self, policy_cameras: list[str]) -> None:
        from drivers.cameras import open_cameras

        names = list(self.rig.cameras) if self.settings.record_to is not None else policy_cameras
        specs = {n: self.rig.cameras[n] for n in names}
        self.cameras = open_cameras(specs, options=self.settings.camera_options)
        for camera in self.cameras.values():
            self._stack.callback(camera.close)

    # -- running -------------------------------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> DeployDaemon:
        """Start the executor thread and wait until it ticks."""
        self._thread = threading.Thread(target=self._run_executor, name="deploy-executor")
        self._thread.start()
        self.executor.wait_alive(timeout_s)
        if self._error is not None:
            self.join()
        return self

    def _run_executor(self) -> None:
        try:
            self.report = self.executor.run(self.stop_event)
        except BaseException as exc:  # noqa: BLE001 — re-raised by join()
            self._error = exc

    def stop(self) -> None:
        """Controlled stop: park, torque policy, the executor thread ends."""
        self.stop_event.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout_s: float | None = None) -> ExecutorReport | None:
        """Wait for the executor to end; re-raise its fault (a BusFault names the arm and motor)."""
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                return None
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self.report

    def close(self) -> None:
        if self.running:
            self.stop()
            self._thread.join(self.rig.deploy.safety.park_s + 10)
        self._stack.close()

    def __enter__(self) -> DeployDaemon:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- commands ------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        data = self.executor.status() if self.executor is not None else {}
        data["daemon"] = {
            "checkpoint": str(self.settings.checkpoint) if self.settings.checkpoint else None,
            "policy": getattr(self.policy, "kind", type(self.policy).__name__ if self.policy else "remote"),
            "planner": self.settings.remote or "local",
            "warmup_ms": self.warmup_ms,
            "command_endpoint": self.commands.endpoint if self.commands else None,
            "telemetry_endpoint": self.publisher.endpoint if self.publisher else None,
            "command_drops": self.commands.channel.drops.as_dict() if self.commands else {},
        }
        if self.planner is not None:
            planner = self.planner.stats()
            planner.pop("link", None)
            data["planner"] = planner
        return data

    def _handle(self, command: Command) -> Reply:
        if command.cmd == "status":
            return Reply(True, self.status())
        if self.executor is None:
            return Reply(False, error="the runtime is starting")
        ok, error, data = self.executor.submit(command.cmd, command.args)
        return Reply(ok, data, error)


def keys_dir(rig: RigSpec, settings: DeploySettings) -> Path | None:
    if settings.keys_dir is not None:
        return Path(settings.keys_dir).expanduser()
    return Path(rig.deploy.curve_keys_dir).expanduser() if rig.deploy.curve_keys_dir else None


def check_settings(rig: RigSpec, settings: DeploySettings) -> None:
    """What can be refused without touching the robot or loading weights: the mode, a checkpoint that
    does not fit the rig (cameras, follower arms, joint counts), a network endpoint without Curve keys."""
    from deploy.curve import needs_curve

    if settings.mode not in MODES:
        raise RobotStackError(f"--mode {settings.mode!r} is not one of {', '.join(MODES)}")
    if settings.added_latency_s < 0:
        raise RobotStackError(f"added latency {settings.added_latency_s} s is negative", hint="use 0 or more")
    if not (math.isfinite(settings.execute_s) and settings.execute_s >= 0):
        raise RobotStackError(f"--execute {settings.execute_s} s is not a time of 0 s or more")
    if settings.execute_s > 0 and settings.mode != "latest":
        raise RobotStackError(
            f"--execute applies to --mode latest, not {settings.mode}",
            hint="ensemble blends every chunk at every tick and rtc conditions on the running plan; "
            "use --mode latest --execute S",
        )
    if not (math.isfinite(settings.fade_s) and settings.fade_s >= 0):
        raise RobotStackError(f"--fade {settings.fade_s} s is not a time of 0 s or more")
    if settings.fade_s > 0 and settings.mode != "ensemble":
        raise RobotStackError(
            f"--fade applies to --mode ensemble, not {settings.mode}",
            hint="latest and rtc run one chunk at a time; there is nothing to blend",
        )
    if settings.checkpoint is not None:
        from policies.checkpoint import load_checkpoint

        load_checkpoint(settings.checkpoint).spec.check_rig(rig, source=f"checkpoint {settings.checkpoint}")
    keys = keys_dir(rig, settings)
    for what, endpoint in (
        ("--remote", settings.remote),
        ("deploy.command_endpoint", settings.command_endpoint or rig.deploy.command_endpoint),
        ("deploy.telemetry_endpoint", settings.telemetry_endpoint or rig.deploy.telemetry_endpoint),
    ):
        if endpoint and needs_curve(endpoint) and keys is None:
            raise RobotStackError(
                f"{what} {endpoint} is reachable from the network and no Curve keys are configured",
                hint="make keys with `robot-stack keys generate DIR` and pass --keys DIR (or set the rig file's "
                "deploy.curve_keys_dir), or use a loopback (tcp://127.0.0.1:PORT) or ipc:// endpoint",
            )
