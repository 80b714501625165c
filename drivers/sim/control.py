"""The sim rig's control endpoint: reset a scene with a seed, ask for task success, switch the
scripted operator on or off — from another process, as `record` and `eval` do.

ZMQ REQ/REP with JSON bodies (small, human-readable, nothing executable on the wire). Malformed
requests get an error reply and are counted; the server never dies of a bad client.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import zmq

from robot_stack.errors import RobotStackError

DEFAULT_ENDPOINT = "ipc:///tmp/robot_stack/sim-control.sock"
MAX_REQUEST_BYTES = 4096


class SimControlServer:
    def __init__(self, sim, endpoint: str = DEFAULT_ENDPOINT, context: zmq.Context | None = None):
        self.sim = sim
        self.endpoint = endpoint
        self._context = context or zmq.Context.instance()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.requests = 0
        self.malformed = 0

    def open(self) -> SimControlServer:
        if self.endpoint.startswith("ipc://"):
            Path(self.endpoint[len("ipc://") :]).parent.mkdir(parents=True, exist_ok=True)
        self._socket = self._context.socket(zmq.REP)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.MAXMSGSIZE, MAX_REQUEST_BYTES)
        try:
            self._socket.bind(self.endpoint)
        except zmq.ZMQError as exc:
            self._socket.close()
            raise RobotStackError(
                f"cannot bind the sim control endpoint {self.endpoint}: {exc}",
                hint="another `robot-stack sim` may be running; stop it or pass --control ENDPOINT",
            ) from None
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="sim-control", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def __enter__(self) -> SimControlServer:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                if not poller.poll(100):
                    continue
                raw = self._socket.recv()
                self.requests += 1
                self._socket.send(json.dumps(self._handle(raw)).encode())
        finally:
            self._socket.close()

    def _handle(self, raw: bytes) -> dict:
        try:
            request = json.loads(raw)
            if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
                raise ValueError("a request is a JSON object with a string 'cmd'")
            return {"ok": True, **self._execute(request)}
        except (ValueError, TypeError, RobotStackError) as exc:
            self.malformed += 1
            return {"ok": False, "error": str(exc)}

    def _execute(self, request: dict) -> dict:
        cmd = request["cmd"]
        if cmd == "status":
            return self.sim.status()
        if cmd == "reset":
            seed = request.get("seed")
            if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
                raise ValueError(f"seed must be an integer, got {seed!r}")
            self.sim.reset(seed, task=request.get("task"))
            return self.sim.status()
        if cmd == "operator":
            enabled = request.get("enabled")
            if not isinstance(enabled, bool):
                raise ValueError("'operator' needs enabled: true or false")
            self.sim.set_operator(enabled)
            return self.sim.status()
        if cmd == "pose":
            arm, q = request.get("arm"), request.get("q")
            if not isinstance(arm, str):
                raise ValueError("'pose' needs arm: the arm's name")
            if q is not None and (
                not isinstance(q, list)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in q)
            ):
                raise ValueError("'pose' needs q: a list of joint values, or null to let go")
            self.sim.pose_arm(arm, q)
            return {"arm": arm, "held": q is not None}
        if cmd == "ranges":
            arm = request.get("arm")
            if not isinstance(arm, str) or arm not in self.sim.rig.arms:
                raise ValueError(f"'ranges' needs arm: one of {', '.join(self.sim.rig.arms)}")
            lo, hi = self.sim.joint_ranges(arm)
            return {"arm": arm, "lower": lo.tolist(), "upper": hi.tolist()}
        raise ValueError(f"unknown command {cmd!r}; use status, reset, operator, pose or ranges")


class SimControlClient:
    """Talks to a running `robot-stack sim`. Every call has a timeout; a lost reply resets the socket."""

    def __init__(
        self, endpoint: str = DEFAULT_ENDPOINT, timeout_s: float = 5.0, context: zmq.Context | None = None
    ):
        self.endpoint = endpoint
        self.timeout_ms = int(timeout_s * 1000)
        self._context = context or zmq.Context.instance()
        self._socket = None

    def _connect(self):
        self._socket = self._context.socket(zmq.REQ)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.RCVTIMEO, self.timeout_ms)
        self._socket.setsockopt(zmq.SNDTIMEO, self.timeout_ms)
        self._socket.connect(self.endpoint)

    def call(self, cmd: str, **fields) -> dict:
        if self._socket is None:
            self._connect()
        try:
            self._socket.send(json.dumps({"cmd": cmd, **fields}).encode())
            reply = json.loads(self._socket.recv())
        except zmq.Again:
            self.close()  # a REQ socket that missed its reply cannot send again
            raise RobotStackError(
                f"the simulator did not answer on {self.endpoint} within {self.timeout_ms} ms",
                hint="start it with `robot-stack sim` (and the same --control endpoint)",
            ) from None
        if not reply.get("ok"):
            raise RobotStackError(f"the simulator refused '{cmd}': {reply.get('error')}")
        return reply

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> SimControlClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
