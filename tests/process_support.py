"""Watching a process the code under test started: alive, or gone (a zombie counts as gone)."""

import os
import time


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting to be reaped counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def assert_exits(pid: int, timeout_s: float, what: str) -> None:
    """Fail the test unless process `pid` (described by `what`) is gone within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        assert time.monotonic() < deadline, f"{what} (pid {pid}) is still running after {timeout_s:g} s"
        time.sleep(0.02)
