"""The generic wire format: one small JSON header frame, then one raw frame per array. No pickle.

A message is a ZMQ multipart message::

    frame 0   JSON header (UTF-8), at most `WireLimits.max_header_bytes`:
              {"kind": "observation", "v": 1, "seq": 12, "t": 1234.567,
               "arrays": [{"name": "state", "dtype": "float32", "shape": [14]}, ...],
               "meta": {...}}                       # JSON values only; NaN/Infinity refused
    frame 1+i the bytes of arrays[i]: C order, little-endian, exactly prod(shape) · itemsize bytes

`encode` builds the frames; `decode` validates everything before a single array is used — frame
count, header size, JSON shape of the header, wire version, kind, dtype (an allow-list), shape (rank,
non-negative sizes), byte count per frame, total size — and raises `DecodeError` naming the problem
and a short `reason` a receiver counts (`DropCounters`). Arrays come back as read-only zero-copy views
of the received frames.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

WIRE_VERSION = 1

# dtype name on the wire → numpy dtype (always little-endian on the wire)
DTYPES: dict[str, np.dtype] = {
    name: np.dtype(name).newbyteorder("<")
    for name in (
        "bool",
        "uint8",
        "int8",
        "uint16",
        "int16",
        "uint32",
        "int32",
        "int64",
        "float32",
        "float64",
    )
}

_NAME = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")

# the reasons a receiver drops a message (DecodeError.reason), in the order they are checked
REASONS = ("oversized", "malformed", "version", "kind", "dtype", "shape", "nonfinite", "invalid")


class DecodeError(ValueError):
    """A received message that must be dropped. `reason` is one of `REASONS` (for counting);
    the message text says what exactly was wrong."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True)
class WireLimits:
    """What a receiver accepts. `max_message_bytes` bounds the sum of all frames (header included)."""

    max_message_bytes: int = 32 * 1024 * 1024
    max_header_bytes: int = 64 * 1024
    max_arrays: int = 16
    max_ndim: int = 4


DEFAULT_LIMITS = WireLimits()


@dataclass(frozen=True)
class Message:
    """A decoded message: the header fields and the arrays by name (read-only views)."""

    kind: str
    seq: int
    t: float
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


class DropCounters:
    """Counts of dropped messages by reason; safe to bump from one thread and read from another."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def count(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self._counts[reason] = self._counts.get(reason, 0) + n

    def __getitem__(self, reason: str) -> int:
        with self._lock:
            return self._counts.get(reason, 0)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def __repr__(self) -> str:
        return f"DropCounters({self.as_dict()})"


def encode(
    kind: str,
    seq: int,
    t: float,
    arrays: Mapping[str, np.ndarray] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> list[bytes]:
    """The frames of one message. Raises ValueError for what `decode` would refuse (a dtype outside
    the allow-list, a bad name, a non-finite `t`, meta that is not plain JSON)."""
    if not isinstance(kind, str) or not _NAME.match(kind):
        raise ValueError(f"message kind {kind!r} is not a short identifier")
    if not math.isfinite(t):
        raise ValueError(f"message time {t} is not finite")
    descriptors, payload = [], []
    for name, value in (arrays or {}).items():
        if not _NAME.match(name):
            raise ValueError(f"array name {name!r} is not a short identifier")
        array = np.asarray(value)
        wire_name = _wire_dtype_name(array.dtype)
        array = np.ascontiguousarray(array, dtype=DTYPES[wire_name])
        descriptors.append({"name": name, "dtype": wire_name, "shape": list(array.shape)})
        payload.append(array.tobytes())
    header = {"kind": kind, "v": WIRE_VERSION, "seq": int(seq), "t": float(t), "arrays": descriptors}
    if meta:
        header["meta"] = dict(meta)
    try:
        text = json.dumps(header, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"message meta is not plain JSON: {exc}") from None
    return [text.encode(), *payload]


def decode(
    frames: Sequence[Any],
    limits: WireLimits = DEFAULT_LIMITS,
    kinds: Iterable[str] | None = None,
) -> Message:
    """Validate and decode received frames (bytes, memoryviews or zmq.Frame); DecodeError if unusable.
    `kinds`: the message kinds this receiver accepts (any when None)."""
    if not frames:
        raise DecodeError("malformed", "empty message")
    views = [_view(f) for f in frames]
    total = sum(v.nbytes for v in views)
    if total > limits.max_message_bytes:
        raise DecodeError("oversized", f"{total} bytes, the limit is {limits.max_message_bytes}")
    if views[0].nbytes > limits.max_header_bytes:
        raise DecodeError("oversized", f"header of {views[0].nbytes} bytes, limit {limits.max_header_bytes}")
    if len(views) - 1 > limits.max_arrays:
        raise DecodeError("oversized", f"{len(views) - 1} array frames, limit {limits.max_arrays}")
    header = _parse_header(views[0])
    if header.get("v") != WIRE_VERSION:
        raise DecodeError("version", f"wire version {header.get('v')!r}, this side speaks {WIRE_VERSION}")
    kind = header.get("kind")
    if not isinstance(kind, str):
        raise DecodeError("malformed", "header has no string 'kind'")
    if kinds is not None and kind not in set(kinds):
        raise DecodeError("kind", f"unexpected message kind {kind!r}")
    seq, t = header.get("seq"), header.get("t")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise DecodeError("malformed", f"header 'seq' {seq!r} is not a non-negative integer")
    if not isinstance(t, int | float) or isinstance(t, bool) or not math.isfinite(t):
        raise DecodeError("malformed", f"header 't' {t!r} is not a finite number")
    meta = header.get("meta", {})
    if not isinstance(meta, dict):
        raise DecodeError("malformed", "header 'meta' is not an object")
    descriptors = header.get("arrays", [])
    if not isinstance(descriptors, list) or len(descriptors) != len(views) - 1:
        raise DecodeError(
            "malformed",
            f"header describes {len(descriptors) if isinstance(descriptors, list) else '?'} arrays, "
            f"the message carries {len(views) - 1}",
        )
    arrays: dict[str, np.ndarray] = {}
    for descriptor, view in zip(descriptors, views[1:], strict=True):
        name, array = _array(descriptor, view, limits)
        if name in arrays:
            raise DecodeError("malformed", f"array {name!r} appears twice")
        arrays[name] = array
    return Message(kind, seq, float(t), arrays, meta)


def check_finite(arrays: Mapping[str, np.ndarray], names: Iterable[str] | None = None) -> None:
    """DecodeError('nonfinite') naming every floating array (of `names`, default all) holding NaN/inf."""
    bad = [
        name
        for name in (names if names is not None else arrays)
        if arrays[name].dtype.kind == "f" and not np.isfinite(arrays[name]).all()
    ]
    if bad:
        raise DecodeError("nonfinite", f"NaN or inf in {', '.join(bad)}")


def _wire_dtype_name(dtype: np.dtype) -> str:
    for name, allowed in DTYPES.items():
        if dtype.kind == allowed.kind and dtype.itemsize == allowed.itemsize:
            return name
    raise ValueError(f"dtype {dtype} cannot go on the wire (allowed: {', '.join(DTYPES)})")


def _view(frame: Any) -> memoryview:
    buffer = getattr(frame, "buffer", frame)  # zmq.Frame exposes .buffer
    try:
        return memoryview(buffer).cast("B")
    except TypeError:
        raise DecodeError(
            "malformed", f"a frame of type {type(frame).__name__} is not a byte buffer"
        ) from None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


def _parse_header(view: memoryview) -> dict:
    try:
        header = json.loads(bytes(view).decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DecodeError("malformed", f"header is not JSON: {str(exc)[:80]}") from None
    if not isinstance(header, dict):
        raise DecodeError("malformed", "header is not a JSON object")
    return header


def _array(descriptor: Any, view: memoryview, limits: WireLimits) -> tuple[str, np.ndarray]:
    if not isinstance(descriptor, dict):
        raise DecodeError("malformed", "an array descriptor is not an object")
    name, dtype_name, shape = descriptor.get("name"), descriptor.get("dtype"), descriptor.get("shape")
    if not isinstance(name, str) or not _NAME.match(name):
        raise DecodeError("malformed", f"array name {name!r} is not a short identifier")
    if dtype_name not in DTYPES:
        raise DecodeError("dtype", f"array {name!r} has dtype {dtype_name!r}, not one of {', '.join(DTYPES)}")
    if (
        not isinstance(shape, list)
        or len(shape) > limits.max_ndim
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
    ):
        raise DecodeError("shape", f"array {name!r} has shape {shape!r}")
    dtype = DTYPES[dtype_name]
    expected = math.prod(shape) * dtype.itemsize
    if expected != view.nbytes:
        raise DecodeError(
            "shape", f"array {name!r} {shape} {dtype_name} needs {expected} bytes, got {view.nbytes}"
        )
    array = np.frombuffer(view, dtype=dtype).reshape(shape)
    array.flags.writeable = False
    return name, array
