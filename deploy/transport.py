"""ZMQ sockets for the deploy runtime, with its rules: validated messages, counted drops, Curve on
the network.

`Channel` is one socket: `inproc://` (same process, same context), `ipc://` (same machine) or
`tcp://`. A non-loopback tcp endpoint needs a keys directory (see `deploy.curve`); with one, a bound
socket is a CURVE server that admits only the authorised clients and a connecting socket a CURVE
client. Every received message is decoded by the caller's decoder; one that fails is counted in
`drops` by reason and dropped — a receiver never raises on what a peer sent. Frames larger than
`limits.max_message_bytes` are refused by ZeroMQ itself (ZMQ_MAXMSGSIZE: the peer is disconnected,
which no counter sees); larger totals over several frames are counted as `oversized`.

The planner ↔ executor link is one endpoint (default `inproc://plan`, DeploySpec.plan_endpoint):

    executor: ExecutorLink (DEALER, connects)  --observation-->  PlannerLink (ROUTER, binds): planner
                                               <--chunk / event--

The planner always binds, so a remote policy server (`robot-stack policy-server --bind tcp://...`)
and a local planner thread look the same to the executor. The executor sends an observation only
when the planner is ready for one (`ExecutorLink.ready`: at most `max_in_flight` unanswered), so an
observation never waits in a queue growing stale; the planner still keeps only the latest of
whatever is queued (`PlannerLink.recv_latest`) and tells the executor about each one it drops.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import zmq
from zmq.utils.monitor import recv_monitor_message

from deploy.curve import (
    DEFAULT_CLIENT,
    CurveClientKeys,
    CurveServerKeys,
    make_curve_client,
    make_curve_server,
    needs_curve,
    release_curve_server,
)
from robot_stack.errors import RobotStackError
from robot_stack.wire import (
    DEFAULT_LIMITS,
    ChunkMessage,
    Command,
    DecodeError,
    DropCounters,
    Event,
    Observation,
    Reply,
    WireLimits,
    decode_chunk,
    decode_event,
    decode_observation,
    decode_reply,
)
from robot_stack.wire.frames import decode as decode_frames

DEFAULT_PLAN_ENDPOINT = "inproc://plan"
T = TypeVar("T")
_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


class Channel:
    """One ZMQ socket under the runtime's rules.

    `socket_type`: zmq.ROUTER, DEALER, PUB, SUB, REQ, REP, PUSH, PULL. `bind`: bind (True) or
    connect. `keys_dir`: the Curve keys directory; required when `endpoint` is a non-loopback tcp
    endpoint, and used for any tcp endpoint when given. `client`: which client key pair a connecting
    socket uses. `rcvhwm`/`sndhwm`: queue bounds in messages. A SUB socket subscribes to everything.

    Use as a context manager, or `open()` / `close()`. Attributes: `socket`, `drops` (DropCounters),
    `received` (messages decoded), `refused_handshakes` (Curve servers: clients turned away —
    wrong or no keys), `curve` (whether Curve is on).
    """

    def __init__(
        self,
        socket_type: int,
        endpoint: str,
        *,
        bind: bool,
        context: zmq.Context | None = None,
        keys_dir: str | Path | None = None,
        client: str = DEFAULT_CLIENT,
        limits: WireLimits = DEFAULT_LIMITS,
        rcvhwm: int = 16,
        sndhwm: int = 16,
    ):
        self.socket_type, self.endpoint, self.bind = socket_type, endpoint, bind
        self.context = context or zmq.Context.instance()
        self.keys_dir = None if keys_dir is None else Path(keys_dir).expanduser()
        self.client, self.limits = client, limits
        self.rcvhwm, self.sndhwm = rcvhwm, sndhwm
        self.curve = endpoint.startswith("tcp://") and self.keys_dir is not None
        if needs_curve(endpoint) and self.keys_dir is None:
            side = "bind" if bind else "connect to"
            raise RobotStackError(
                f"refusing to {side} {endpoint} without Curve keys: it is reachable from the network",
                hint="make keys with `robot-stack keys generate DIR` and pass them (--keys DIR or the rig "
                "file's deploy.curve_keys_dir), or use a loopback (tcp://127.0.0.1:PORT) or ipc:// endpoint",
            )
        self.socket: zmq.Socket | None = None
        self._monitor: zmq.Socket | None = None
        self._curve_server = False
        self.drops = DropCounters()
        self.received = 0
        self.refused_handshakes = 0

    def open(self) -> Channel:
        socket = self.context.socket(self.socket_type)
        try:
            socket.setsockopt(zmq.LINGER, 0)
            socket.setsockopt(zmq.MAXMSGSIZE, self.limits.max_message_bytes)
            socket.setsockopt(zmq.RCVHWM, self.rcvhwm)
            socket.setsockopt(zmq.SNDHWM, self.sndhwm)
            if self.socket_type == zmq.SUB:
                socket.setsockopt(zmq.SUBSCRIBE, b"")
            if self.curve:
                if self.bind:
                    make_curve_server(socket, self.context, CurveServerKeys.load(self.keys_dir))
                    self._curve_server = True
                    self._monitor = socket.get_monitor_socket(_HANDSHAKE_FAILED)
                else:
                    make_curve_client(socket, CurveClientKeys.load(self.keys_dir, self.client))
            if self.endpoint.startswith("ipc://"):
                Path(self.endpoint[len("ipc://") :]).parent.mkdir(parents=True, exist_ok=True)
            try:
                (socket.bind if self.bind else socket.connect)(self.endpoint)
                if self.bind and self.endpoint.startswith("ipc://"):
                    os.chmod(self.endpoint[len("ipc://") :], 0o600)  # this user's processes only
            except zmq.ZMQError as exc:
                raise RobotStackError(
                    f"cannot {'bind' if self.bind else 'connect to'} {self.endpoint}: {exc}",
                    hint="another process may hold this endpoint; stop it or choose another one"
                    if self.bind
                    else "check the endpoint's spelling",
                ) from None
        except BaseException:
            self._teardown(socket)
            raise
        self.socket = socket
        return self

    def close(self) -> None:
        if self.socket is not None:
            self._teardown(self.socket)
            self.socket = None

    def _teardown(self, socket: zmq.Socket) -> None:
        if self._monitor is not None:
            socket.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None
        socket.close(linger=0)
        if self._curve_server:
            release_curve_server(self.context)
            self._curve_server = False

    def __enter__(self) -> Channel:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # --- sending -------------------------------------------------------------------------------

    def send(self, frames: Sequence[bytes], peer: bytes | None = None) -> bool:
        """Send without blocking; False when the peer's queue is full (or, for ROUTER, it is gone)."""
        parts = [peer, *frames] if peer is not None else list(frames)
        try:
            self._socket().send_multipart(parts, flags=zmq.NOBLOCK, copy=len(parts[-1]) < 65536)
            return True
        except zmq.Again:
            return False

    # --- receiving -----------------------------------------------------------------------------

    def poll(self, timeout_s: float) -> bool:
        """Whether a message is waiting, waiting up to `timeout_s`."""
        self.watch_handshakes()
        return bool(self._socket().poll(max(0, int(timeout_s * 1000)), zmq.POLLIN))

    def recv(
        self, decoder: Callable[[Sequence[Any]], T], timeout_s: float = 0.0
    ) -> tuple[bytes | None, T] | None:
        """The next message that decodes, as (peer, message) — peer is the ROUTER envelope (None for
        other socket types). Messages that fail to decode are counted and skipped; None when nothing
        valid arrives within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not self.poll(max(0.0, deadline - time.monotonic())):
                return None
            got = self._recv_one(decoder)
            if got is not None:
                return got

    def recv_all(self, decoder: Callable[[Sequence[Any]], T]) -> list[tuple[bytes | None, T]]:
        """Every valid message already waiting (drops counted), without blocking."""
        out = []
        while self.poll(0):
            got = self._recv_one(decoder)
            if got is not None:
                out.append(got)
        return out

    def recv_frames(self) -> tuple[bytes | None, list[zmq.Frame]]:
        """One raw message (blocking; poll first): (ROUTER peer or None, frames)."""
        frames = self._socket().recv_multipart(copy=False)
        if self.socket_type == zmq.ROUTER:
            return frames[0].bytes, frames[1:]
        return None, frames

    def decode(self, decoder: Callable[[Sequence[Any]], T], frames: Sequence[Any]) -> T | DecodeError:
        """`decoder(frames)`, or the DecodeError it raised (counted in `drops`; a REP socket answers it
        with a failed `Reply` so its request/reply cycle stays in step)."""
        try:
            message = decoder(frames)
        except DecodeError as exc:
            self.drops.count(exc.reason)
            if self.socket_type == zmq.REP:  # a REP socket must answer before it can receive again
                self.send(Reply(False, error=str(exc)).encode())
            return exc
        self.received += 1
        return message

    def _recv_one(self, decoder: Callable[[Sequence[Any]], T]) -> tuple[bytes | None, T] | None:
        peer, frames = self.recv_frames()
        message = self.decode(decoder, frames)
        return None if isinstance(message, DecodeError) else (peer, message)

    def watch_handshakes(self) -> int:
        """Count Curve handshakes refused since the last call (also done on every poll)."""
        refused = 0
        while self._monitor is not None and self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)
            if event["event"] & _HANDSHAKE_FAILED:
                refused += 1
        self.refused_handshakes += refused
        return refused

    def _socket(self) -> zmq.Socket:
        if self.socket is None:
            raise RuntimeError(f"channel {self.endpoint} is not open")
        return self.socket

    def stats(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "curve": self.curve,
            "received": self.received,
            "dropped": self.drops.as_dict(),
            "refused_handshakes": self.refused_handshakes,
        }


@dataclass(frozen=True)
class ObservationRequest:
    """An observation the planner took, and who to answer."""

    peer: bytes | None
    observation: Observation
    superseded: int  # older observations that were waiting and were skipped for this one


class PlannerLink:
    """The planner's end of the link: a ROUTER socket that binds `endpoint`.

    `recv_latest(timeout_s)` returns the newest valid observation waiting (older ones are skipped
    and answered with an `observation_superseded` event; undecodable ones are counted in
    `channel.drops` and answered with `observation_dropped`); `send_chunk(peer, chunk)` answers.
    `state_dim` / `cameras`, when given, are checked on every observation.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_PLAN_ENDPOINT,
        *,
        context: zmq.Context | None = None,
        keys_dir: str | Path | None = None,
        limits: WireLimits = DEFAULT_LIMITS,
        state_dim: int | None = None,
        cameras: Sequence[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.channel = Channel(
            zmq.ROUTER,
            endpoint,
            bind=True,
            context=context,
            keys_dir=keys_dir,
            limits=limits,
            rcvhwm=4,
            sndhwm=64,
        )
        self.state_dim, self.cameras, self.clock = state_dim, cameras, clock
        self.superseded = 0
        self.sent = 0

    @property
    def endpoint(self) -> str:
        return self.channel.endpoint

    def open(self) -> PlannerLink:
        self.channel.open()
        return self

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> PlannerLink:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _decode(self, frames: Sequence[Any]) -> Observation:
        return decode_observation(frames, self.channel.limits, self.state_dim, self.cameras)

    def recv_latest(self, timeout_s: float) -> ObservationRequest | None:
        """The newest valid observation that arrives within `timeout_s` (then everything already
        queued behind it is drained too, keeping the newest by capture time)."""
        if not self.channel.poll(timeout_s):
            return None
        latest: tuple[bytes | None, Observation] | None = None
        skipped = 0
        while self.channel.poll(0):
            peer, frames = self.channel.recv_frames()
            message = self.channel.decode(self._decode, frames)
            if isinstance(message, DecodeError):
                self.send_event(peer, Event(self.clock(), "observation_dropped", "warning", str(message)))
                continue
            got = (peer, message)
            if latest is not None:
                newer, older = (got, latest) if got[1].t >= latest[1].t else (latest, got)
                self.send_event(
                    older[0], Event(self.clock(), "observation_superseded", "info", "", older[1].seq)
                )
                skipped += 1
                latest = newer
            else:
                latest = got
        if latest is None:
            return None
        self.superseded += skipped
        return ObservationRequest(latest[0], latest[1], skipped)

    def send_chunk(self, peer: bytes | None, chunk: ChunkMessage) -> bool:
        ok = self.channel.send(chunk.encode(), peer)
        self.sent += ok
        return ok

    def send_event(self, peer: bytes | None, event: Event) -> bool:
        return peer is not None and self.channel.send(event.encode(), peer)

    def stats(self) -> dict[str, Any]:
        return {**self.channel.stats(), "superseded": self.superseded, "sent": self.sent}


class ExecutorLink:
    """The executor's end of the link: a DEALER socket that connects to the planner's endpoint.

    The executor calls `ready()` each tick and, when True, `send_observation(obs)`; then `poll()`
    returns the chunks that arrived (decoded, shape-checked against `action_dim` when given; NaN
    actions are left for the ensembler to reject and the safety layer to log). `events` keeps the
    latest events from the planner (dropped or superseded observations). `in_flight`: observations
    sent and not yet answered; one unanswered for `resend_after_s` is given up on (lost message,
    restarted planner), so the link never stalls.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_PLAN_ENDPOINT,
        *,
        context: zmq.Context | None = None,
        keys_dir: str | Path | None = None,
        client: str = DEFAULT_CLIENT,
        limits: WireLimits = DEFAULT_LIMITS,
        action_dim: int | None = None,
        max_in_flight: int = 1,
        resend_after_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.channel = Channel(
            zmq.DEALER,
            endpoint,
            bind=False,
            context=context,
            keys_dir=keys_dir,
            client=client,
            limits=limits,
            rcvhwm=64,
            sndhwm=max(1, max_in_flight),
        )
        self.action_dim, self.max_in_flight, self.resend_after_s = action_dim, max_in_flight, resend_after_s
        self.clock = clock
        self._outstanding: dict[int, float] = {}  # observation seq → time sent
        self.events: deque[Event] = deque(maxlen=64)
        self.sent = 0
        self.send_refused = 0
        self.given_up = 0
        self.chunks = 0

    @property
    def endpoint(self) -> str:
        return self.channel.endpoint

    def open(self) -> ExecutorLink:
        self.channel.open()
        return self

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> ExecutorLink:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def in_flight(self) -> int:
        return len(self._outstanding)

    def ready(self) -> bool:
        """Whether to send an observation now: fewer than `max_in_flight` are unanswered (after
        giving up on those older than `resend_after_s`)."""
        now = self.clock()
        stale = [seq for seq, t in self._outstanding.items() if now - t > self.resend_after_s]
        for seq in stale:
            del self._outstanding[seq]
        self.given_up += len(stale)
        return len(self._outstanding) < self.max_in_flight

    def send_observation(self, observation: Observation) -> bool:
        """Send without blocking; False when the socket's queue is full (not sent, nothing pending)."""
        if not self.channel.send(observation.encode()):
            self.send_refused += 1
            return False
        self._outstanding[observation.seq] = self.clock()
        self.sent += 1
        return True

    def _decode(self, frames: Sequence[Any]) -> ChunkMessage | Event:
        message = decode_frames(frames, self.channel.limits, ("chunk", "event"))
        if message.kind == "event":
            return decode_event(frames, self.channel.limits)
        return decode_chunk(frames, self.channel.limits, self.action_dim)

    def poll(self, timeout_s: float = 0.0) -> list[ChunkMessage]:
        """The chunks that arrived (waiting up to `timeout_s` for the first message)."""
        if timeout_s > 0:
            self.channel.poll(timeout_s)
        chunks = []
        for _, message in self.channel.recv_all(self._decode):
            if isinstance(message, Event):
                self.events.append(message)
                if message.name in ("observation_dropped", "observation_superseded"):
                    self._answered(message.seq if message.seq in self._outstanding else None)
                continue
            self._answered(message.obs_seq)
            chunks.append(message)
        self.chunks += len(chunks)
        return chunks

    def _answered(self, seq: int | None) -> None:
        if seq is None:  # an undecodable observation's seq is unknown: free the oldest slot
            if self._outstanding:
                del self._outstanding[min(self._outstanding)]
            return
        for s in [s for s in self._outstanding if s <= seq]:
            del self._outstanding[s]

    def stats(self) -> dict[str, Any]:
        return {
            **self.channel.stats(),
            "sent": self.sent,
            "send_refused": self.send_refused,
            "given_up": self.given_up,
            "chunks": self.chunks,
            "in_flight": self.in_flight,
        }


def request(
    endpoint: str,
    command: Command,
    timeout_s: float = 2.0,
    *,
    context: zmq.Context | None = None,
    keys_dir: str | Path | None = None,
    client: str = DEFAULT_CLIENT,
) -> Reply:
    """Send one command to a daemon's command socket (REP) and wait for its reply. A fresh REQ socket
    per call, so a daemon that never answers cannot leave the caller's socket stuck. RobotStackError
    when no valid reply comes within `timeout_s`."""
    with Channel(zmq.REQ, endpoint, bind=False, context=context, keys_dir=keys_dir, client=client) as channel:
        if not channel.send(command.encode()):
            raise RobotStackError(f"cannot send {command.cmd!r} to {endpoint}", hint="is the daemon running?")
        got = channel.recv(decode_reply, timeout_s)
    if got is None:
        raise RobotStackError(
            f"no reply to {command.cmd!r} from {endpoint} within {timeout_s:g} s",
            hint="is `robot-stack deploy` running, with this command endpoint (rig file deploy.command_endpoint)?",
        )
    return got[1]
