"""SimCamera: a camera of the simulated rig, received from the simulator's camera publisher.

It is a `drivers.cameras.Camera` like the OpenCV and RealSense ones: its own capture thread, ring
buffer, stall detection and counters; the frames were rendered by `robot-stack sim` (or an in-process
SimCameraServer), possibly in another process.
"""

from __future__ import annotations

import zmq

from drivers.cameras.base import Camera
from drivers.cameras.frame import Capture
from drivers.sim.camera_wire import DEFAULT_CAMERA_ENDPOINT, decode_frame
from robot_stack.errors import RobotStackError


class SimCamera(Camera):
    driver = "sim"

    def __init__(
        self,
        name,
        spec,
        *,
        endpoint: str = DEFAULT_CAMERA_ENDPOINT,
        context: zmq.Context | None = None,
        **options,
    ):
        super().__init__(name, spec, **options)
        self.endpoint = endpoint
        self._context = context or zmq.Context.instance()
        self._socket = None
        self.malformed = 0

    def describe_source(self) -> str:
        return f"sim camera '{self.spec.device}' at {self.endpoint}"

    def _no_frame_hint(self) -> str:
        return "start the simulator with `robot-stack sim` (it renders the rig file's sim cameras)"

    def _connect(self) -> None:
        try:
            socket = self._context.socket(zmq.SUB)
            socket.setsockopt(zmq.LINGER, 0)
            socket.setsockopt(zmq.RCVHWM, 4)
            socket.setsockopt(zmq.SUBSCRIBE, self.name.encode())
            socket.connect(self.endpoint)
        except zmq.ZMQError as exc:
            raise RobotStackError(
                f"camera '{self.name}': cannot connect to {self.endpoint}: {exc}",
                hint="check the sim camera endpoint",
            ) from None
        self._socket = socket

    def _disconnect(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _read(self, timeout_s: float) -> Capture | None:
        if not self._socket.poll(int(timeout_s * 1000)):
            return None
        parts = self._socket.recv_multipart()
        if parts[0] != self.name.encode():
            return None  # a camera whose name starts like ours: prefix subscription
        try:
            image, header = decode_frame(parts, self.spec.width, self.spec.height)
        except ValueError:
            self.malformed += 1
            return None
        return Capture(
            image=image,
            t_host=float(header["t_host"]),
            t_device=float(header["t_device"]),
            device_sequence=int(header["sequence"]),
        )
