"""Shared set-up for the deploy tests: a small sim rig written to a file (private ports and endpoints,
one 64×48 camera), its arms calibrated, the sim's camera publisher, a tiny trained checkpoint, and a
telemetry listener."""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
import zmq

from calibration.files import calibration_path, save_calibration
from calibration.guides import AutoGuide
from calibration.procedure import calibrate_arm
from deploy.daemon import DeployDaemon, DeploySettings
from deploy.transport import Channel
from drivers.dynamixel.arm import DynamixelArm
from drivers.sim.camera_server import SimCameraServer
from drivers.sim.rig import SimRig, rig_with_ports_in
from robot_stack.rig import RigSpec, load_rig
from robot_stack.wire import Event, Telemetry, decode_message

REPO = Path(__file__).resolve().parent.parent
# Tests not about a silent bus give the emulated one the slack a busy 2-core machine needs.
SLACK_S = 0.5


def write_rig(
    folder: Path, safety: dict | None = None, watchdog: dict | None = None, camera: dict | None = None
) -> tuple[Path, RigSpec]:
    data = load_rig(REPO / "hardware.yaml").model_dump(mode="json")
    data["cameras"] = {
        "cam_high": {**data["cameras"]["cam_high"], "width": 64, "height": 48, **(camera or {})}
    }
    data["deploy"].update(
        plan_endpoint=f"inproc://plan-{uuid.uuid4().hex[:8]}",
        command_endpoint=f"ipc://{folder}/cmd.sock",
        telemetry_endpoint=f"ipc://{folder}/tel.sock",
    )
    data["deploy"]["safety"].update({"ramp_in_s": 0.5, "park_s": 1.0, **(safety or {})})
    data["deploy"]["watchdog"].update({"hold_after_s": 1.0, "park_after_s": 4.0, **(watchdog or {})})
    rig = rig_with_ports_in(RigSpec.model_validate(data), folder)
    path = folder / "rig.yaml"
    path.write_text(yaml.safe_dump(rig.model_dump(mode="json"), sort_keys=False))
    return path, rig


@dataclass
class SimBench:
    rig: RigSpec
    sim: SimRig
    calibrations: dict
    camera_endpoint: str

    def settings(self, **overrides) -> DeploySettings:
        options = {
            "camera_options": {"cam_high": {"endpoint": self.camera_endpoint}},
            "bus_deadline_s": SLACK_S,
        }
        return DeploySettings(**{**options, **overrides})


def calibrate(sim: SimRig, rig: RigSpec, rig_path: Path | None = None) -> dict:
    calibrations = {}
    for name in rig.arms:
        with DynamixelArm.from_rig(rig, name, torque=False) as arm:
            calibrations[name] = calibrate_arm(arm, AutoGuide(sim), rig.name)
        if rig_path is not None:
            save_calibration(calibrations[name], calibration_path(rig, rig_path, name))
    for name in rig.arms:
        sim.pose_arm(name, None)
    with DynamixelArm.from_rig(rig, "left_follower"), DynamixelArm.from_rig(rig, "right_follower"):
        pass  # followers hold where they are (calibration left their torque off)
    return calibrations


@contextlib.contextmanager
def sim_bench(rig: RigSpec, rig_path: Path | None = None, seed: int = 1, operator: bool = False):
    """The sim rig in real time, calibrated, its camera published on a private endpoint."""
    with SimRig(rig, realtime=True, operator=operator, seed=seed) as sim:
        calibrations = calibrate(sim, rig, rig_path)
        sim.reset(seed)
        endpoint = f"ipc://{Path(rig.arms['left_leader'].port).parent}/cams.sock"
        with SimCameraServer(sim, rig.cameras, endpoint):
            yield SimBench(rig, sim, calibrations, endpoint)


@contextlib.contextmanager
def running(bench: SimBench, settings: DeploySettings, policy=None, before_start=None):
    """A daemon started (executor ticking); on exit stopped (parked) and closed. `before_start(daemon)`
    runs once it is open (arms, sockets) and before its loop ticks."""
    daemon = DeployDaemon(bench.rig, bench.calibrations, settings, policy=policy).open()
    try:
        if before_start is not None:
            before_start(daemon)
        daemon.start()
        yield daemon
    finally:
        daemon.close()


_CACHE: dict[str, Path] = {}


def tiny_checkpoint() -> Path:
    """A `test`-preset ACT trained 2 steps on two short scripted demos of this rig (once per process)."""
    if "act" not in _CACHE:
        import torch

        from policies import make_config, train
        from policies.store_view import open_store
        from robot_stack.app.scripted_demos import record_scripted_demos

        torch.set_num_threads(1)
        folder = Path(tempfile.mkdtemp(prefix="deploy_ckpt_"))
        _, rig = write_rig(folder)
        record_scripted_demos(
            rig, folder / "demos.zarr", "transfer_cube", range(2), only_successes=False, max_seconds=0.6
        )
        config = make_config("act", "test", ["train.steps=2"])
        train(config, open_store(folder / "demos.zarr"), folder / "act", show_progress=False)
        _CACHE["act"] = folder / "act"
    return _CACHE["act"]


class TelemetryTap:
    """Collects every telemetry and event message published on `endpoint`, on a thread."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.telemetry: list[dict] = []
        self.events: list[Event] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TelemetryTap:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        with Channel(zmq.SUB, self.endpoint, bind=False) as channel:
            self._ready.set()
            while not self._stop.is_set():
                got = channel.recv(decode_message, 0.05)
                if got is None:
                    continue
                message = got[1]
                if isinstance(message, Telemetry):
                    self.telemetry.append(message.data)
                elif isinstance(message, Event):
                    self.events.append(message)

    def names(self) -> list[str]:
        return [e.name for e in list(self.events)]

    def first(self, name: str) -> Event | None:
        return next((e for e in list(self.events) if e.name == name), None)


def wait_until(predicate, timeout_s: float, poll_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll_s)
    return bool(predicate())


class CommandLog:
    """Wraps each follower's bus thread `submit_goal` to keep every goal (ticks → joint values)."""

    def __init__(self, daemon: DeployDaemon):
        self.goals: dict[str, list[tuple[float, np.ndarray]]] = {}
        for arm in daemon.arms.with_role("follower"):
            self.goals[arm.name] = []
            original = arm.io.submit_goal

            def submit(ticks, _arm=arm, _original=original):
                self.goals[_arm.name].append((time.monotonic(), _arm.map.to_values(ticks)))
                return _original(ticks)

            arm.io.submit_goal = submit

    def values(self, arm: str, since: float = 0.0, until: float = float("inf")) -> np.ndarray:
        return np.array([q for t, q in self.goals[arm] if since <= t <= until])


QUANTUM = 2 * np.pi / 4096  # one encoder tick: goals pass through ticks and back


def assert_within_limits(log: CommandLog, rig, daemon):
    safety = rig.deploy.safety
    for arm in daemon.arms.with_role("follower"):
        goals = log.values(arm.name)
        assert len(goals) > 10 and np.isfinite(goals).all()
        limit = np.array(
            [
                safety.max_gripper_step if j == rig.arms[arm.name].gripper else safety.max_step_rad
                for j in arm.joint_names
            ]
        )
        steps = np.abs(np.diff(goals, axis=0))
        assert (steps <= limit + 2 * QUANTUM).all(), steps.max(axis=0)
        assert (goals >= arm.map.lower - QUANTUM).all() and (goals <= arm.map.upper + QUANTUM).all()
