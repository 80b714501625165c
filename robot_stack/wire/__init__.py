"""Wire messages of the deploy runtime: a JSON header frame plus raw array frames over ZMQ, no pickle.

A contract module: it imports nothing of the wings, so the planner (policies side), the executor
(deploy) and command-line tools all speak the same format. See docs/deploy.md for the format.

    frames = Observation(t=t_capture, state=q, images={"cam_high": rgb}).encode()
    obs = decode_observation(frames, limits, state_dim=14)   # DecodeError(reason=...) if unusable
"""

from robot_stack.wire.frames import (
    DEFAULT_LIMITS,
    DTYPES,
    REASONS,
    WIRE_VERSION,
    DecodeError,
    DropCounters,
    Message,
    WireLimits,
    check_finite,
    decode,
    encode,
)
from robot_stack.wire.messages import (
    CHUNK,
    COMMAND,
    COMMANDS,
    EVENT,
    KINDS,
    OBSERVATION,
    REPLY,
    SEVERITIES,
    TELEMETRY,
    AnyMessage,
    ChunkMessage,
    Command,
    Event,
    Observation,
    Reply,
    Telemetry,
    decode_chunk,
    decode_command,
    decode_event,
    decode_message,
    decode_observation,
    decode_reply,
    decode_telemetry,
)

__all__ = [
    "CHUNK",
    "COMMAND",
    "COMMANDS",
    "DEFAULT_LIMITS",
    "DTYPES",
    "EVENT",
    "KINDS",
    "OBSERVATION",
    "REASONS",
    "REPLY",
    "SEVERITIES",
    "TELEMETRY",
    "WIRE_VERSION",
    "AnyMessage",
    "ChunkMessage",
    "Command",
    "DecodeError",
    "DropCounters",
    "Event",
    "Message",
    "Observation",
    "Reply",
    "Telemetry",
    "WireLimits",
    "check_finite",
    "decode",
    "decode_chunk",
    "decode_command",
    "decode_event",
    "decode_message",
    "decode_observation",
    "decode_reply",
    "decode_telemetry",
    "encode",
]
