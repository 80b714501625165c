"""`robot-stack record` put together: rig, calibration, dataset, simulator, cameras, arms, loop, session.

    with Recorder(RecordRequest(rig_path, dataset, task="transfer_cube", episodes=2)) as recorder:
        result = recorder.run()          # live panel; returns when done, stopped or failed

Threads while recording: the control loop (50 Hz, SCHED_FIFO where allowed) hands each tick to the
take; the frame pump moves frames from the cameras' rings to the take; the episode writer and its
encoders write; the session thread runs the episode state machine and reads the keys; the main thread
draws the panel. On a sim rig the simulator (physics, servo emulators, camera renderer) runs in a
`robot-stack sim` of its own — one already serving the rig file's ports, or a child process started
for this recording (sim_child.py; `sim_in_process` keeps it here instead) — and its cameras are
received like any camera.

Order of opening: everything that can refuse cheaply (rig file, options, calibration, dataset path,
rig match on --resume) before the simulator and the devices start. A dataset created by this run
that ends with no episode is removed again, so a failed start can simply be repeated.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console

from robot_stack.app.record.frames import FramePump
from robot_stack.app.record.keys import KeyReader
from robot_stack.app.record.panel import DiskSpace, record_panel
from robot_stack.app.record.scene import HandScene, SimScene
from robot_stack.app.record.session import EpisodeSummary, RecordOptions, RecordSession
from robot_stack.app.sim_session import sim_bus_slack
from robot_stack.app.teleop.perturbation import JointNoise
from robot_stack.errors import RobotStackError
from robot_stack.rig import RigSpec, load_rig
from robot_stack.store import Dataset

SCRIPTED_RESET_S = 1.0
PERSON_RESET_S = 10.0
SIM_FIRST_FRAME_TIMEOUT_S = 20.0  # the renderer's GL context starts with the first frame


@dataclass
class RecordRequest:
    rig_path: Path
    dataset: Path
    task: str | None = None
    episodes: int = 1
    episode_s: float | None = None
    reset_s: float | None = None
    resume: bool = False
    operator: str | None = None  # sim: "scripted" (default) or "none"
    seed: int | None = None  # sim: first scene seed
    tags: tuple[str, ...] = ()
    ramp_in_s: float | None = None
    camera_endpoint: str | None = None  # sim cameras of a `robot-stack sim` started elsewhere
    control_endpoint: str | None = None  # the control socket of that `robot-stack sim`
    sim_in_process: bool = False  # no sim running: simulate in this process, not in a child process
    jpeg_quality: int | None = None
    noise_rad: float | None = None  # noise injected on the follower goals (std, rad); None: none
    noise_time_s: float = 0.5  # its correlation time


@dataclass
class RecordResult:
    dataset: Path
    summaries: list[EpisodeSummary]
    loop: dict = field(default_factory=dict)
    leftovers: list = field(default_factory=list)

    @property
    def saved(self) -> list[EpisodeSummary]:
        return [s for s in self.summaries if not s.removed]


class Recorder:
    def __init__(
        self,
        request: RecordRequest,
        console: Console | None = None,
        *,
        camera_factory: Callable[[RigSpec], dict] | None = None,
        tap=None,
        keys: KeyReader | None = None,
    ):
        self.request = request
        self.console = console or Console(highlight=False)
        self.camera_factory = camera_factory  # benchmarks: synthetic frame sources instead of the rig's
        self.tap = tap
        self.keys = keys
        self.rig: RigSpec | None = None
        self.dataset: Dataset | None = None
        self.sim_session = None
        self.camera_server = None  # in-process sim cameras
        self.sim_child = None  # the `robot-stack sim` started for this recording
        self.camera_endpoint: str | None = None
        self.cameras: dict = {}
        self.loop = None
        self.pump: FramePump | None = None
        self.session: RecordSession | None = None
        self._created = False
        self._stack = contextlib.ExitStack()

    # ---- opening
    def open(self) -> Recorder:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def _open(self) -> None:
        from calibration.files import load_rig_calibration
        from calibration.rig_arms import RigArms
        from robot_stack.app.teleop.loop import TeleopLoop

        req = self.request
        # Stalls are the session's events (panel, summaries); without a logging setup they would
        # also go to stderr through logging's last-resort handler, under the panel.
        self._stack.enter_context(_quiet_logger("drivers.cameras"))
        rig = self.rig = load_rig(req.rig_path)
        task, scripted = self._check_request(rig)
        noise = self._noise(rig)  # refused here, before the dataset is touched
        calibrations = load_rig_calibration(rig, req.rig_path)
        calibration = {name: cal.model_dump(mode="json") for name, cal in calibrations.items()}
        if req.resume:
            self.dataset = Dataset.resume(req.dataset, rig, calibration=calibration)
        else:
            self.dataset = Dataset.create(req.dataset, rig, calibration=calibration)
            self._created = True
        for leftover in self.dataset.leftovers:
            self.console.print(f"[yellow]note:[/] {leftover}")
        self.dataset.start_writer()

        scene = HandScene()
        if rig.backend == "sim":
            scene = self._open_sim(rig, task, scripted)
        self.cameras = self._open_cameras(rig)
        arms = self._stack.enter_context(RigArms(rig, calibrations, **sim_bus_slack(rig)["arms"]))
        self.loop = TeleopLoop(rig, arms, ramp_in_s=req.ramp_in_s, noise=noise, **sim_bus_slack(rig)["loop"])
        self.pump = self._stack.enter_context(FramePump(self.cameras, tap=self.tap))
        reset_s = (
            req.reset_s if req.reset_s is not None else (SCRIPTED_RESET_S if scripted else PERSON_RESET_S)
        )
        options = RecordOptions(
            task=task,
            episodes=req.episodes,
            episode_s=req.episode_s,
            reset_s=reset_s,
            operator="scripted operator" if scripted else "",
            tags=tuple(req.tags),
            first_seed=self._first_seed(rig) if rig.backend == "sim" else None,
            jpeg_quality=req.jpeg_quality,
        )
        latency = {
            n: c.latency_ms / 1000 for n, c in rig.cameras.items() if c.driver == "sim" and c.latency_ms
        }
        self.session = RecordSession(
            self.dataset,
            self.loop,
            self.pump,
            scene,
            options,
            keys=self.keys,
            on_summary=self._print_summary,
            camera_latency_s=latency,
            episode_extra={
                "cameras": {n: c.info() for n, c in self.cameras.items()},
                **({"noise": noise.describe()} if noise is not None else {}),
            },
        )
        for camera in self.cameras.values():
            camera.on_stall = self.session.on_stall

    def _noise(self, rig: RigSpec) -> JointNoise | None:
        """The noise to inject on the followers' goals (every joint but the gripper), if asked for."""
        req = self.request
        if req.noise_rad is None:
            return None
        joints = {}
        for pair in rig.pairs:
            arm = rig.arms[pair.follower]
            joints[pair.follower] = np.array([name != arm.gripper for name in arm.joint_names])
        return JointNoise(joints, req.noise_rad, req.noise_time_s, 1.0 / rig.control_rate_hz, seed=req.seed)

    def _check_request(self, rig: RigSpec) -> tuple[str, bool]:
        req = self.request
        if req.episodes < 1:
            raise RobotStackError(
                f"--episodes {req.episodes}: record at least one", hint="e.g. --episodes 10"
            )
        if req.episode_s is not None and req.episode_s <= 0:
            raise RobotStackError(f"--episode-seconds {req.episode_s} must be positive")
        if req.reset_s is not None and req.reset_s < 0:
            raise RobotStackError(f"--reset-seconds {req.reset_s} must be 0 or more")
        if rig.backend != "sim":
            if req.operator == "scripted":
                raise RobotStackError(
                    "--operator scripted needs the simulated rig: on hardware a person moves the leaders",
                    hint="drop --operator",
                )
            if not req.task:
                raise RobotStackError(
                    "--task is required", hint='describe the task, e.g. --task "fold the towel"'
                )
            return req.task, False
        from drivers.sim.tasks import TASKS

        task = req.task or (rig.sim.task if rig.sim else "transfer_cube")
        if task not in TASKS:
            raise RobotStackError(
                f"the simulated rig has no task '{task}'",
                hint=f"use --task {' or --task '.join(sorted(TASKS))}",
            )
        return task, (req.operator or "scripted") == "scripted"

    def _first_seed(self, rig: RigSpec) -> int:
        if self.request.seed is not None:
            return self.request.seed
        seeds = [a.get("seed") for a in self.dataset.episodes().values()]
        seeds = [s for s in seeds if isinstance(s, int)]
        if seeds:
            return max(seeds) + 1  # a resumed dataset gets new scenes
        return rig.sim.seed if rig.sim else 0

    def _open_sim(self, rig: RigSpec, task: str, scripted: bool) -> SimScene:
        from drivers.sim.control import DEFAULT_ENDPOINT
        from robot_stack.app.record.sim_child import SimProcess
        from robot_stack.app.sim_session import SimSession

        req = self.request
        endpoint = req.control_endpoint or DEFAULT_ENDPOINT
        self.camera_endpoint = req.camera_endpoint
        if not req.sim_in_process and not _sim_serving(rig, endpoint):
            child = self.sim_child = self._stack.enter_context(SimProcess(req.rig_path, task=task))
            endpoint, self.camera_endpoint = child.control_endpoint, child.camera_endpoint
        session = SimSession(rig, operator=False, task=task, control_endpoint=endpoint)
        self.sim_session = self._stack.enter_context(session)
        if not session.external and rig.cameras and self.camera_factory is None:
            from drivers.sim.camera_server import SimCameraServer

            # this run's own socket: other simulators and recorders on the machine keep theirs
            folder = Path(tempfile.gettempdir()) / "robot_stack"
            folder.mkdir(parents=True, exist_ok=True)
            self.camera_endpoint = f"ipc://{folder}/record-cameras-{os.getpid()}.sock"
            self.camera_server = self._stack.enter_context(
                SimCameraServer(session.sim, rig.cameras, self.camera_endpoint)
            )
        return SimScene(session, task, scripted)

    def _open_cameras(self, rig: RigSpec) -> dict:
        if self.camera_factory is not None:
            cameras = self.camera_factory(rig)
        else:
            from drivers.cameras import open_cameras

            options = {}
            endpoint = self.camera_endpoint
            for name, spec in rig.cameras.items():
                if spec.driver == "sim":
                    options[name] = {"first_frame_timeout_s": SIM_FIRST_FRAME_TIMEOUT_S}
                    if endpoint:
                        options[name]["endpoint"] = endpoint
            cameras = open_cameras(rig.cameras, options=options)
        for camera in cameras.values():
            self._stack.callback(camera.close)
        return cameras

    # ---- running
    def run(self, stop: threading.Event | None = None, panel: bool = True) -> RecordResult:
        from robot_stack.app.live import run_with_panel

        session, loop = self.session, self.loop
        disk = DiskSpace(self.request.dataset)

        def work(stop_event: threading.Event):
            thread = threading.Thread(target=session.run, args=(stop_event,), name="record-session")
            thread.start()
            try:
                return loop.run(stop_event, on_tick=session.on_tick)
            finally:
                stop_event.set()
                thread.join()

        keys_active = self.keys is not None and self.keys.active
        if panel:
            stats = run_with_panel(work, lambda: record_panel(session, disk, keys_active), self.console, stop)
        else:  # still on a thread of its own: the loop makes its thread SCHED_FIFO for good
            outcome: dict = {}
            thread = threading.Thread(
                target=lambda: outcome.update(stats=_call(work, stop or threading.Event()))
            )
            thread.start()
            thread.join()
            if isinstance(outcome["stats"], BaseException):
                raise outcome["stats"]
            stats = outcome["stats"]
        if session.error is not None:
            raise session.error
        return RecordResult(
            dataset=self.request.dataset,
            summaries=list(session.summaries),
            loop=stats.to_dict() if stats is not None else {},
            leftovers=list(self.dataset.leftovers),
        )

    def _print_summary(self, summary: EpisodeSummary) -> None:
        style = "yellow" if summary.flags else "green"
        self.console.print(f"[{style}]{summary.line()}[/]", soft_wrap=True)

    # ---- closing
    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            if self.dataset is not None:
                self.dataset.close()
                if self._created and not self.dataset.indices():
                    _remove_empty_dataset(self.dataset.path)
                    self.console.print(f"no episode recorded; removed the empty dataset {self.dataset.path}")
                self.dataset = None

    def __enter__(self) -> Recorder:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


def _sim_serving(rig: RigSpec, endpoint: str) -> bool:
    """Whether a `robot-stack sim` answers on `endpoint` serving this rig's ports."""
    from drivers.sim.control import SimControlClient

    client = SimControlClient(endpoint, timeout_s=0.3)
    try:
        status = client.call("status")
    except RobotStackError:
        return False
    finally:
        client.close()
    return status.get("ports") == {name: arm.port for name, arm in rig.arms.items()}


@contextlib.contextmanager
def _quiet_logger(name: str):
    logger, handler = logging.getLogger(name), logging.NullHandler()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _call(work, stop):
    try:
        return work(stop)
    except BaseException as exc:  # noqa: BLE001 — re-raised by the caller's thread
        return exc


def _remove_empty_dataset(path: Path) -> None:
    """Delete a dataset this run created and never recorded into (only its skeleton files)."""
    from robot_stack.store.files import remove_tree

    remove_tree(path)
