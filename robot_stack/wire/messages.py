"""The message kinds of the deploy runtime, on top of the generic frames of `robot_stack.wire.frames`.

| kind          | direction                  | arrays                                  | meta |
|---------------|----------------------------|-----------------------------------------|------|
| `observation` | executor → planner         | `state` (J,) float32, `image/<cam>` (H, W, 3) uint8 | `episode`, `t_images`, `delay_s` |
| `chunk`       | planner → executor         | `actions` (k, J) float32                | `dt`, `policy`, `obs_seq`, `episode`, `compute_s` |
| `telemetry`   | daemon → watchers (PUB)    | —                                       | `data`: JSON object |
| `event`       | anyone → anyone            | —                                       | `name`, `severity`, `detail` |
| `command`     | ctl → daemon (REQ)         | —                                       | `cmd`, `args` |
| `reply`       | daemon → ctl (REP)         | —                                       | `ok`, `data`, `error` |

The header's `t` is the message's reference time on the robot's monotonic clock: an observation's
capture time; for a chunk, t0 = the capture time of the observation it was planned from (echoed by
the planner, never its own clock), so `actions[i]` is for time t0 + i·dt on the robot.

Every `decode_*` raises `DecodeError` (with a `reason` to count) for anything it would not use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robot_stack.wire.frames import (
    DEFAULT_LIMITS,
    DecodeError,
    Message,
    WireLimits,
    check_finite,
    decode,
    encode,
)

OBSERVATION, CHUNK, TELEMETRY, EVENT, COMMAND, REPLY = (
    "observation",
    "chunk",
    "telemetry",
    "event",
    "command",
    "reply",
)
KINDS = (OBSERVATION, CHUNK, TELEMETRY, EVENT, COMMAND, REPLY)
COMMANDS = ("status", "start", "stop", "estop", "takeover", "release")
SEVERITIES = ("info", "warning", "error")
IMAGE_PREFIX = "image/"


@dataclass(frozen=True)
class Observation:
    """What the planner needs from one control tick: follower joints and the latest camera frames.

    `t`: capture time (host monotonic) of the joint state; `t_images` each frame's own capture time.
    `episode` changes when the policy must forget its history (a new episode, after a takeover).
    `delay_s` (optional): the executor's measured capture → chunk-arrival delay, for real-time chunking.
    """

    t: float
    state: np.ndarray
    images: dict[str, np.ndarray] = field(default_factory=dict)
    seq: int = 0
    episode: int = 0
    t_images: dict[str, float] = field(default_factory=dict)
    delay_s: float | None = None

    def encode(self) -> list[bytes]:
        arrays = {"state": np.asarray(self.state, dtype=np.float32)}
        arrays.update({IMAGE_PREFIX + name: image for name, image in self.images.items()})
        meta: dict[str, Any] = {"episode": int(self.episode)}
        if self.t_images:
            meta["t_images"] = {k: float(v) for k, v in self.t_images.items()}
        if self.delay_s is not None:
            meta["delay_s"] = float(self.delay_s)
        return encode(OBSERVATION, self.seq, self.t, arrays, meta)

    def as_policy_input(self) -> dict[str, Any]:
        """The dict `policies.Policy.predict` takes: images, state, t. Decoded arrays are read-only views
        of the received frames; images are copied here (torch refuses read-only buffers), ~0.1 ms each."""
        images = {k: v if v.flags.writeable else v.copy() for k, v in self.images.items()}
        return {"images": images, "state": self.state.copy(), "t": self.t}


@dataclass(frozen=True)
class ChunkMessage:
    """An action chunk: `actions[i]` is the command for robot time `t0 + i·dt`."""

    actions: np.ndarray
    t0: float
    dt: float
    seq: int = 0
    obs_seq: int = 0
    episode: int = 0
    policy: str = ""
    compute_s: float | None = None  # the planner's own time from receiving the observation to sending

    def encode(self) -> list[bytes]:
        meta: dict[str, Any] = {
            "dt": float(self.dt),
            "obs_seq": int(self.obs_seq),
            "episode": int(self.episode),
            "policy": self.policy,
        }
        if self.compute_s is not None:
            meta["compute_s"] = float(self.compute_s)
        return encode(CHUNK, self.seq, self.t0, {"actions": np.asarray(self.actions, np.float32)}, meta)

    @property
    def times(self) -> np.ndarray:
        return self.t0 + np.arange(len(self.actions)) * self.dt


@dataclass(frozen=True)
class Telemetry:
    t: float
    data: dict[str, Any]
    seq: int = 0

    def encode(self) -> list[bytes]:
        return encode(TELEMETRY, self.seq, self.t, meta={"data": self.data})


@dataclass(frozen=True)
class Event:
    """Something worth a line in a log: a safety event, a dropped message, a mode change."""

    t: float
    name: str
    severity: str = "info"
    detail: str = ""
    seq: int = 0

    def encode(self) -> list[bytes]:
        if self.severity not in SEVERITIES:
            raise ValueError(f"event severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")
        meta = {"name": self.name, "severity": self.severity, "detail": self.detail}
        return encode(EVENT, self.seq, self.t, meta=meta)


@dataclass(frozen=True)
class Command:
    cmd: str
    args: dict[str, Any] = field(default_factory=dict)
    t: float = 0.0
    seq: int = 0

    def encode(self) -> list[bytes]:
        if self.cmd not in COMMANDS:
            raise ValueError(f"command {self.cmd!r} is not one of {', '.join(COMMANDS)}")
        return encode(COMMAND, self.seq, self.t, meta={"cmd": self.cmd, "args": self.args})


@dataclass(frozen=True)
class Reply:
    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    t: float = 0.0
    seq: int = 0  # the command's seq

    def encode(self) -> list[bytes]:
        return encode(
            REPLY, self.seq, self.t, meta={"ok": bool(self.ok), "data": self.data, "error": self.error}
        )


AnyMessage = Observation | ChunkMessage | Telemetry | Event | Command | Reply


def decode_observation(
    frames: Sequence[Any],
    limits: WireLimits = DEFAULT_LIMITS,
    state_dim: int | None = None,
    cameras: Sequence[str] | None = None,
) -> Observation:
    """An observation, checked: float32 (J,) finite state (J = `state_dim` when given), uint8 (H, W, 3)
    images (every camera of `cameras` present when given)."""
    return _observation(decode(frames, limits, (OBSERVATION,)), state_dim, cameras)


def decode_chunk(
    frames: Sequence[Any], limits: WireLimits = DEFAULT_LIMITS, action_dim: int | None = None
) -> ChunkMessage:
    """An action chunk, checked for shape (k ≥ 1, J = `action_dim` when given) and a positive finite dt.
    NaN/inf actions are NOT refused here: the executor's ensembler rejects them at add time, so the
    safety layer sees and logs them."""
    return _chunk(decode(frames, limits, (CHUNK,)), action_dim)


def decode_message(frames: Sequence[Any], limits: WireLimits = DEFAULT_LIMITS) -> AnyMessage:
    """Any of the kinds above, as its dataclass."""
    message = decode(frames, limits, KINDS)
    return _TYPED[message.kind](message)


def _observation(
    message: Message, state_dim: int | None = None, cameras: Sequence[str] | None = None
) -> Observation:
    arrays, meta = message.arrays, message.meta
    state = arrays.get("state")
    if state is None or state.dtype != np.float32 or state.ndim != 1:
        raise DecodeError("shape", "observation needs a float32 (J,) 'state'")
    if state_dim is not None and state.shape != (state_dim,):
        raise DecodeError("shape", f"observation state has {state.shape[0]} values, expected {state_dim}")
    images = {}
    for name, array in arrays.items():
        if name == "state":
            continue
        if not name.startswith(IMAGE_PREFIX) or len(name) == len(IMAGE_PREFIX):
            raise DecodeError("malformed", f"observation carries an unknown array {name!r}")
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
            raise DecodeError("shape", f"{name} is {array.dtype} {array.shape}, expected uint8 (H, W, 3)")
        images[name[len(IMAGE_PREFIX) :]] = array
    missing = [c for c in cameras or () if c not in images]
    if missing:
        raise DecodeError("invalid", f"observation lacks camera {', '.join(missing)}")
    check_finite(arrays, ["state"])
    episode = meta.get("episode", 0)
    t_images = meta.get("t_images", {})
    delay = meta.get("delay_s")
    if not _is_int(episode):
        raise DecodeError("malformed", f"observation episode {episode!r} is not an integer")
    if not isinstance(t_images, dict) or not all(_is_finite(v) for v in t_images.values()):
        raise DecodeError("malformed", "observation t_images is not an object of finite times")
    if delay is not None and not (_is_finite(delay) and delay >= 0):
        raise DecodeError("malformed", f"observation delay_s {delay!r} is not a non-negative number")
    return Observation(
        message.t,
        state,
        images,
        message.seq,
        episode,
        {k: float(v) for k, v in t_images.items()},
        None if delay is None else float(delay),
    )


def _chunk(message: Message, action_dim: int | None = None) -> ChunkMessage:
    actions, meta = message.arrays.get("actions"), message.meta
    if actions is None or set(message.arrays) != {"actions"}:
        raise DecodeError("malformed", "a chunk carries exactly one array, 'actions'")
    if actions.dtype != np.float32 or actions.ndim != 2 or actions.shape[0] < 1:
        raise DecodeError(
            "shape", f"chunk actions are {actions.dtype} {actions.shape}, expected float32 (k ≥ 1, J)"
        )
    if action_dim is not None and actions.shape[1] != action_dim:
        raise DecodeError("shape", f"chunk actions have {actions.shape[1]} values, expected {action_dim}")
    dt, compute = meta.get("dt"), meta.get("compute_s")
    if not (_is_finite(dt) and dt > 0):
        raise DecodeError("malformed", f"chunk dt {dt!r} is not a positive number")
    if compute is not None and not _is_finite(compute):
        raise DecodeError("malformed", f"chunk compute_s {compute!r} is not a number")
    obs_seq, episode, policy = meta.get("obs_seq", 0), meta.get("episode", 0), meta.get("policy", "")
    if not (_is_int(obs_seq) and _is_int(episode) and isinstance(policy, str)):
        raise DecodeError("malformed", "chunk obs_seq / episode / policy have the wrong types")
    return ChunkMessage(
        actions,
        message.t,
        float(dt),
        message.seq,
        obs_seq,
        episode,
        policy,
        None if compute is None else float(compute),
    )


def _telemetry(message: Message) -> Telemetry:
    data = message.meta.get("data")
    if not isinstance(data, dict) or message.arrays:
        raise DecodeError("malformed", "telemetry carries a JSON object 'data' and no arrays")
    return Telemetry(message.t, data, message.seq)


def _event(message: Message) -> Event:
    meta = message.meta
    name, severity, detail = meta.get("name"), meta.get("severity", "info"), meta.get("detail", "")
    if (
        not isinstance(name, str)
        or severity not in SEVERITIES
        or not isinstance(detail, str)
        or message.arrays
    ):
        raise DecodeError("malformed", "an event has a string name, a known severity and a string detail")
    return Event(message.t, name, severity, detail, message.seq)


def _command(message: Message) -> Command:
    cmd, args = message.meta.get("cmd"), message.meta.get("args", {})
    if cmd not in COMMANDS:
        raise DecodeError("invalid", f"unknown command {cmd!r} (known: {', '.join(COMMANDS)})")
    if not isinstance(args, dict) or message.arrays:
        raise DecodeError("malformed", "command args is not a JSON object")
    return Command(cmd, args, message.t, message.seq)


def _reply(message: Message) -> Reply:
    ok, data, error = message.meta.get("ok"), message.meta.get("data", {}), message.meta.get("error", "")
    if not isinstance(ok, bool) or not isinstance(data, dict) or not isinstance(error, str) or message.arrays:
        raise DecodeError("malformed", "a reply has a boolean ok, an object data and a string error")
    return Reply(ok, data, error, message.t, message.seq)


_TYPED = {
    OBSERVATION: _observation,
    CHUNK: _chunk,
    TELEMETRY: _telemetry,
    EVENT: _event,
    COMMAND: _command,
    REPLY: _reply,
}


def decode_telemetry(frames: Sequence[Any], limits: WireLimits = DEFAULT_LIMITS) -> Telemetry:
    return _telemetry(decode(frames, limits, (TELEMETRY,)))


def decode_event(frames: Sequence[Any], limits: WireLimits = DEFAULT_LIMITS) -> Event:
    return _event(decode(frames, limits, (EVENT,)))


def decode_command(frames: Sequence[Any], limits: WireLimits = DEFAULT_LIMITS) -> Command:
    return _command(decode(frames, limits, (COMMAND,)))


def decode_reply(frames: Sequence[Any], limits: WireLimits = DEFAULT_LIMITS) -> Reply:
    return _reply(decode(frames, limits, (REPLY,)))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
