"""The simulated rig behind a workflow: a `robot-stack sim` already running, or one started here.

On a sim rig, `calibrate`, `teleop`, `record` and `replay` need the simulator serving the rig file's
ports. When a `robot-stack sim` answers on the control socket (and serves these ports) the workflow
talks to it; otherwise it starts one in this process for its own duration. Either way the workflow
reaches the rig only through the serial ports and cameras, as on hardware; this object adds only what
hardware has no equivalent for (re-randomising the scene, the scripted operator, the sim's hand).
"""

from __future__ import annotations

import contextlib

from calibration.guides import RemoteHand
from drivers.sim.control import DEFAULT_ENDPOINT, SimControlClient
from drivers.sim.rig import SimRig
from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import RigSpec

PROBE_TIMEOUT_S = 0.3
# The simulated rig's servos answer from Python threads (in this process or in `robot-stack sim`),
# sharing the cores with rendering, physics and the scripted operator's planning: on a sim rig an
# arm is declared silent only after this long (hardware keeps the loop's 50 ms), and a late reply is
# retried (25 × the rig's 40 ms reply timeout ≈ 1 s). Late ticks still count, in panels and flags.
SIM_BUS_DEADLINE_S = 1.0
SIM_BUS_RETRIES = 25


def sim_bus_slack(rig: RigSpec) -> dict[str, dict]:
    """Keyword arguments for `RigArms` ("arms") and the control loop ("loop"): the slack above on a
    simulated rig, nothing (the hardware defaults) otherwise."""
    if rig.backend != "sim":
        return {"arms": {}, "loop": {}}
    return {"arms": {"retries": SIM_BUS_RETRIES}, "loop": {"bus_deadline_s": SIM_BUS_DEADLINE_S}}


class SimSession:
    def __init__(
        self,
        rig: RigSpec,
        *,
        operator: bool = True,
        task: str | None = None,
        seed: int | None = None,
        cameras: bool = False,
        camera_endpoint: str | None = None,
        control_endpoint: str = DEFAULT_ENDPOINT,
        wire_timing: bool = False,
    ):
        self.rig = rig
        self.operator, self.task, self.seed = operator, task, seed
        self.cameras, self.camera_endpoint = cameras, camera_endpoint
        self.control_endpoint = control_endpoint
        self.wire_timing = wire_timing
        self.sim: SimRig | None = None  # in-process simulator
        self.client: SimControlClient | None = None  # a `robot-stack sim` elsewhere
        self._stack = contextlib.ExitStack()

    @property
    def external(self) -> bool:
        return self.client is not None

    def open(self) -> SimSession:
        if self.rig.backend != "sim":
            raise RobotStackError(
                f"rig '{self.rig.name}' is not simulated", hint="use a rig file with backend: sim"
            )
        client = self._probe()
        if client is not None:
            self.client = self._stack.enter_context(client)
            self.set_operator(self.operator)
            if self.task is not None or self.seed is not None:
                self.reset(self.seed, self.task)
            return self
        try:
            self.sim = self._stack.enter_context(
                SimRig(
                    self.rig,
                    task=self.task,
                    seed=self.seed,
                    realtime=True,
                    operator=self.operator,
                    wire_timing=self.wire_timing,
                )
            )
            if self.cameras and self.rig.cameras:
                from drivers.sim.camera_server import SimCameraServer
                from drivers.sim.camera_wire import DEFAULT_CAMERA_ENDPOINT

                self._stack.enter_context(
                    SimCameraServer(
                        self.sim, self.rig.cameras, self.camera_endpoint or DEFAULT_CAMERA_ENDPOINT
                    )
                )
        except BaseException:
            self._stack.close()
            raise
        return self

    def close(self) -> None:
        self._stack.close()
        self.sim = self.client = None

    def __enter__(self) -> SimSession:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def is_ready(self) -> bool:
        return self.sim is not None or self.client is not None

    # what the sim offers beyond the hardware
    @property
    def hand(self):
        return self.sim if self.sim is not None else RemoteHand(self.client)

    def reset(self, seed: int | None = None, task: str | None = None) -> dict:
        if self.sim is not None:
            self.sim.reset(seed, task=task)
            return self.sim.status()
        return self.client.call("reset", seed=seed, task=task)

    def set_operator(self, enabled: bool) -> None:
        if self.sim is not None:
            self.sim.set_operator(enabled)
        else:
            self.client.call("operator", enabled=enabled)

    def status(self) -> dict:
        return self.sim.status() if self.sim is not None else self.client.call("status")

    def _probe(self) -> SimControlClient | None:
        client = SimControlClient(self.control_endpoint, timeout_s=PROBE_TIMEOUT_S)
        try:
            status = client.call("status")
        except RobotStackError:
            client.close()
            return None
        ours = {name: arm.port for name, arm in self.rig.arms.items()}
        if status.get("ports") != ours:
            client.close()
            return None
        client.close()  # reconnects on the next call, with the normal timeout
        client.timeout_ms = 5000
        return client
