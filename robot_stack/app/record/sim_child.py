"""The simulated rig in a process of its own, for one recording.

Physics, the emulated servo chains and the camera renderer are Python threads; in the recording
process they share its GIL with the 50 Hz loop, the frame pump and the writer, and the loop pays for
it (docs/recording.md, measured). So when no `robot-stack sim` is serving the rig, `record` starts one
as a child process on sockets of its own and talks to it like to hardware plus the sim's control
socket. The child dies with the recorder (PR_SET_PDEATHSIG), so even a kill -9 of the recorder leaves
no simulator behind holding the rig's ports.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drivers.sim.control import SimControlClient
from robot_stack.app.child_process import stop_child
from robot_stack.errors import RobotStackError

START_TIMEOUT_S = 60.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


class SimProcess:
    def __init__(self, rig_path: Path, *, task: str | None = None, seed: int | None = None):
        self.rig_path = Path(rig_path)
        self.task, self.seed = task, seed
        folder = Path(tempfile.gettempdir()) / "robot_stack"
        tag = f"record-{os.getpid()}"
        self.control_endpoint = f"ipc://{folder}/{tag}-control.sock"
        self.camera_endpoint = f"ipc://{folder}/{tag}-cameras.sock"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def open(self) -> SimProcess:
        cmd = [
            sys.executable,
            "-m",
            "robot_stack.app.cli",
            "--rig",
            str(self.rig_path),
            "sim",
            "--no-operator",
        ]
        cmd += ["--control", self.control_endpoint, "--camera-endpoint", self.camera_endpoint]
        if self.task is not None:
            cmd += ["--task", self.task]
        if self.seed is not None:
            cmd += ["--seed", str(self.seed)]
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        client = SimControlClient(self.control_endpoint, timeout_s=0.5)
        try:
            while True:
                try:
                    client.call("status")
                    return self
                except RobotStackError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise self._failed() from None
                    time.sleep(0.2)
        except BaseException:
            self.close()
            raise
        finally:
            client.close()

    def _failed(self) -> RobotStackError:
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        said = next((ln for ln in reversed(lines) if ln.startswith("error:")), lines[-1] if lines else "")
        state = (
            f"exited with status {self.proc.returncode}" if self.proc.poll() is not None else "did not answer"
        )
        return RobotStackError(
            f"the simulator for this recording {state}" + (f": {said}" if said else ""),
            hint="run `robot-stack sim` in another terminal to see why (record then uses it)",
        )

    def close(self) -> None:
        if self.proc is not None:
            stop_child(self.proc)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> SimProcess:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()
