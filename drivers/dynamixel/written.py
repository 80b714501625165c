"""Bytes this process has written to each serial device, by the device's real path.

In lockstep time the simulator and the bus driver share a process, and physics may move only once the
emulated motors have executed every packet the driver sent (`PtyTransport.wait_input_handled`). The
pty's own queue cannot say so: the kernel hands bytes from the slave to the master side asynchronously,
so an empty queue right after a write can still mean "not there yet". Counting what was written here
and what the emulator read there does.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_written: dict[str, int] = {}


def device_key(path: str) -> str:
    return os.path.realpath(path)


def add(path_key: str, count: int) -> None:
    with _lock:
        _written[path_key] = _written.get(path_key, 0) + count


def total(path: str) -> int:
    with _lock:
        return _written.get(device_key(path), 0)
