"""Renders the rig file's sim cameras from the scene at their frame rates and publishes them.

Each frame is stamped with the host monotonic time at which it reaches the consumer: the moment of
rendering plus the camera's modelled `latency_ms` (a real camera's host stamp is its arrival time,
and a latency estimate from the data must be able to recover the difference). `t_device` is the
scene's own time at capture, like a camera's internal clock. When rendering falls behind, the due
frames are skipped — consumers see real drops, never repeated frames.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import zmq

from drivers.sim.camera_wire import DEFAULT_CAMERA_ENDPOINT, encode_frame
from drivers.sim.render import SceneRenderer
from robot_stack.clock import MonotonicClock
from robot_stack.rig.schema import CameraSpec


class SimCameraServer:
    def __init__(
        self,
        sim,
        cameras: dict[str, CameraSpec],
        endpoint: str = DEFAULT_CAMERA_ENDPOINT,
        drop_rate: float = 0.0,
        seed: int = 0,
        context: zmq.Context | None = None,
    ):
        self.sim = sim
        self.cameras = {name: spec for name, spec in cameras.items() if spec.driver == "sim"}
        self.endpoint = endpoint
        self.drop_rate = drop_rate
        self._rng = np.random.default_rng(seed)
        self._context = context or zmq.Context.instance()
        self._clock = MonotonicClock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rendered = dict.fromkeys(self.cameras, 0)
        self.skipped = dict.fromkeys(self.cameras, 0)  # due frames not rendered in time
        self.dropped = dict.fromkeys(self.cameras, 0)  # rendered, then lost by the drop model
        self.render_ms: dict[str, float] = dict.fromkeys(self.cameras, 0.0)

    def open(self) -> SimCameraServer:
        if self.endpoint.startswith("ipc://"):
            Path(self.endpoint[len("ipc://") :]).parent.mkdir(parents=True, exist_ok=True)
        self._socket = self._context.socket(zmq.PUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.SNDHWM, 8)
        self._socket.bind(self.endpoint)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sim-cameras", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SimCameraServer:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self) -> None:
        # The GL context lives on this thread: the renderer is made and used here only.
        renderer, scene = None, None
        due = dict.fromkeys(self.cameras, self._clock.now())
        outbox: list[tuple[float, list[bytes]]] = []  # frames waiting out their modelled latency
        sequence = dict.fromkeys(self.cameras, 0)
        try:
            while not self._stop.is_set():
                if self.sim.scene is not scene:
                    if renderer is not None:
                        renderer.close()
                    scene = self.sim.scene
                    renderer = SceneRenderer(scene)
                name = min(due, key=due.get) if due else None
                candidates = ([due[name]] if name else []) + ([outbox[0][0]] if outbox else [])
                if not candidates:
                    self._stop.wait(0.1)
                    continue
                wake = min(candidates)
                if wake - self._clock.now() > 0.002:
                    self._stop.wait(min(0.05, wake - self._clock.now() - 0.001))
                    continue
                self._clock.sleep_until(wake)
                while outbox and outbox[0][0] <= self._clock.now():
                    self._socket.send_multipart(outbox.pop(0)[1])
                if name is not None and due[name] <= self._clock.now():
                    self._capture(name, renderer, scene, due, sequence, outbox)
        finally:
            self._socket.close()
            if renderer is not None:
                renderer.close()

    def _capture(self, name, renderer, scene, due, sequence, outbox) -> None:
        spec = self.cameras[name]
        period = 1.0 / spec.fps
        start = self._clock.now()
        t_device = scene.time
        image = renderer.render(str(spec.device), spec.width, spec.height)
        self.render_ms[name] = (self._clock.now() - start) * 1e3
        self.rendered[name] += 1
        sequence[name] += 1
        t_host = start + spec.latency_ms / 1000.0
        if self._rng.random() < self.drop_rate:
            self.dropped[name] += 1
        else:
            outbox.append((t_host, encode_frame(name, image, t_host, t_device, sequence[name])))
            outbox.sort(key=lambda item: item[0])
        # The next frame is due one period later; frames whose time passed while rendering are skipped.
        next_due = due[name] + period
        now = self._clock.now()
        if next_due < now:
            missed = int((now - next_due) // period) + 1
            self.skipped[name] += missed
            sequence[name] += missed
            next_due += missed * period
        due[name] = next_due
