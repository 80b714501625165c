"""What the recording process and its writer process say to each other over their private pipe.

One message is one length-framed record (multiprocessing.connection does the framing):

    4 bytes   n, the JSON header's length (little-endian)
    n bytes   JSON header: {"op": ..., "episode": id, ..., "arrays": [[name, dtype, shape], ...]}
    ...       each listed array's bytes (C order), then the payload (an encoded frame), if any

No pickle: the two ends are our own processes, but a plain format keeps the pipe inspectable and
leaves nothing in it that could run code.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from multiprocessing.connection import Connection

import numpy as np

_LENGTH = struct.Struct("<I")


def send(conn: Connection, header: dict, arrays: Mapping[str, np.ndarray] | None = None, payload=b"") -> None:
    parts = []
    listed = []
    for name, array in (arrays or {}).items():
        array = np.ascontiguousarray(array)
        listed.append([name, array.dtype.str, list(array.shape)])
        parts.append(array.tobytes())
    head = json.dumps({**header, "arrays": listed}, separators=(",", ":")).encode()
    conn.send_bytes(b"".join([_LENGTH.pack(len(head)), head, *parts, payload]))


def receive(conn: Connection) -> tuple[dict, dict[str, np.ndarray], memoryview]:
    """(header, arrays by name, payload). Raises EOFError when the other end has gone."""
    data = memoryview(conn.recv_bytes())
    (n,) = _LENGTH.unpack_from(data)
    header = json.loads(bytes(data[_LENGTH.size : _LENGTH.size + n]))
    at = _LENGTH.size + n
    arrays = {}
    for name, dtype, shape in header.pop("arrays"):
        dt = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        arrays[name] = np.frombuffer(data, dt, count=count, offset=at).reshape(shape)
        at += count * dt.itemsize
    return header, arrays, data[at:]
