"""Ending a child process the workflows started (a simulator, a policy server)."""

from __future__ import annotations

import subprocess


def stop_child(process: subprocess.Popen, timeout_s: float = 15.0) -> None:
    """SIGTERM, so it can stop cleanly (a simulator saves its motors' EEPROM and removes its port
    links); SIGKILL if it is still there after `timeout_s`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
