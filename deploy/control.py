"""The daemon's two outward sockets: telemetry out (PUB), commands in (REP).

    robot-stack ctl watch   --SUB-->  TelemetryPublisher (PUB, binds deploy.telemetry_endpoint)
    robot-stack ctl start   --REQ-->  CommandServer      (REP, binds deploy.command_endpoint)

`TelemetryPublisher.publish(data)` sends a `Telemetry` message, `event(...)` an `Event`; both never
block (a slow or absent watcher loses messages, the robot never waits). Thread-safe: the executor and
the daemon both publish.

`CommandServer` answers each `Command` on its own thread by calling `handler(command) -> Reply`.
Undecodable requests are counted in `channel.drops` and answered with a failed Reply (the REP
socket stays in step); a handler that raises is answered with its message, never crashes the thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from deploy.transport import Channel
from robot_stack.errors import RobotStackError
from robot_stack.wire import Command, Event, Reply, Telemetry, decode_command

log = logging.getLogger("deploy")


class TelemetryPublisher:
    def __init__(
        self, endpoint: str, *, keys_dir: str | Path | None = None, context: zmq.Context | None = None
    ):
        self.channel = Channel(zmq.PUB, endpoint, bind=True, keys_dir=keys_dir, context=context, sndhwm=64)
        self._lock = threading.Lock()
        self._seq = 0
        self.sent = 0
        self.not_sent = 0

    @property
    def endpoint(self) -> str:
        return self.channel.endpoint

    def open(self) -> TelemetryPublisher:
        self.channel.open()
        return self

    def close(self) -> None:
        with self._lock:
            self.channel.close()

    def __enter__(self) -> TelemetryPublisher:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def publish(self, t: float, data: dict[str, Any]) -> None:
        self._send(lambda seq: Telemetry(t, data, seq).encode())

    def event(self, t: float, name: str, severity: str = "info", detail: str = "") -> None:
        self._send(lambda seq: Event(t, name, severity, detail, seq).encode())

    def _send(self, make: Callable[[int], list[bytes]]) -> None:
        with self._lock:
            if self.channel.socket is None:
                return
            self._seq += 1
            if self.channel.send(make(self._seq)):
                self.sent += 1
            else:
                self.not_sent += 1


class CommandServer:
    def __init__(
        self,
        endpoint: str,
        handler: Callable[[Command], Reply],
        *,
        keys_dir: str | Path | None = None,
        context: zmq.Context | None = None,
        poll_s: float = 0.1,
    ):
        self.channel = Channel(zmq.REP, endpoint, bind=True, keys_dir=keys_dir, context=context)
        self.handler = handler
        self.poll_s = poll_s
        self.answered = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return self.channel.endpoint

    def start(self) -> CommandServer:
        self.channel.open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="deploy-commands", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.channel.close()

    def __enter__(self) -> CommandServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            got = self.channel.recv(decode_command, self.poll_s)
            if got is None:
                continue
            command = got[1]
            try:
                reply = self.handler(command)
            except RobotStackError as exc:
                reply = Reply(False, error=exc.message + (f" ({exc.hint})" if exc.hint else ""))
            except Exception as exc:  # noqa: BLE001 — answered, logged, the server keeps serving
                log.exception("command %s failed", command.cmd)
                reply = Reply(False, error=f"{type(exc).__name__}: {exc}")
            try:
                frames = Reply(reply.ok, reply.data, reply.error, reply.t, command.seq).encode()
            except (TypeError, ValueError) as exc:  # data that is not plain JSON: still answer
                frames = Reply(False, error=f"reply not encodable: {exc}", seq=command.seq).encode()
            self.channel.send(frames)
            self.answered += 1
