"""The recording process's side of the writer process (sink_server.py): start it, feed it, hear back.

    sinks = SinkProcess()                       # one per dataset opened for writing; started on first use
    sink = sinks.open(dataset, partial, attrs, cameras, codec, joint_names, on_error=wake)
    sink.add_tick(t, rows); sink.add_frame(camera, t, t_device, jpeg)     # from the writer thread
    stats = sink.finish(final_attrs, counters)                            # waits for the fsync
    sinks.close()

A RemoteSink has EpisodeSink's methods, so the episode writer thread does not care where the
writes happen. Sends go down a pipe (a full pipe blocks the writer thread, never the control
loop, whose hand-off queue then refuses and counts); a reader thread routes the answers. A failure
in the writer process (disk full, a dead process) reaches the episode as a RobotStackError at its
next call, and `on_error` wakes its writer thread so it learns at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path

import robot_stack
from robot_stack.errors import RobotStackError
from robot_stack.store.jpeg import JpegCodec
from robot_stack.store.sink import CameraLayout
from robot_stack.store.sink_messages import receive, send

_PACKAGE_ROOT = str(Path(robot_stack.__file__).resolve().parent.parent)


class SinkProcess:
    def __init__(self):
        self._proc: subprocess.Popen | None = None
        self._outbox: Connection | None = None
        self._send_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._episodes: dict[int, RemoteSink] = {}
        self._next_id = 0

    def open(
        self,
        dataset: Path,
        partial: Path,
        attrs: dict,
        cameras: dict[str, CameraLayout],
        codec: JpegCodec,
        joint_names: list[str] | None,
        on_error=None,
    ) -> RemoteSink:
        with self._state_lock:
            self._ensure_running()
            eid = self._next_id
            self._next_id += 1
            sink = self._episodes[eid] = RemoteSink(self, self._proc, eid, on_error)
        header = {
            "op": "open",
            "episode": eid,
            "dataset": str(dataset),
            "partial": str(partial),
            "attrs": attrs,
            "cameras": {name: [c.name, c.height, c.width, c.fps, c.latency_s] for name, c in cameras.items()},
            "codec": codec.settings(),
            "joint_names": list(joint_names) if joint_names else None,
        }
        self.send(header)
        return sink

    def start(self) -> None:
        """Start the process now (if it is not running), rather than at the first episode."""
        with self._state_lock:
            self._ensure_running()

    def _ensure_running(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            self._start()

    def send(self, header: dict, arrays=None, payload=b"") -> None:
        with self._send_lock:
            outbox = self._outbox
            try:
                if outbox is None:
                    raise OSError("not running")
                send(outbox, header, arrays, payload)
            except OSError:
                raise self._gone_error() from None

    def close(self, timeout_s: float = 30.0) -> None:
        """Let the process finish what it was sent, then exit (episodes still open there are dropped)."""
        with self._send_lock:
            outbox, self._outbox = self._outbox, None
            if outbox is not None:
                outbox.close()
        if self._proc is not None:
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    # ---- the process

    def _start(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        cmd = [sys.executable, "-m", "robot_stack.store.sink_server"]
        cmd += [str(to_child_r), str(from_child_w), str(os.getpid())]
        try:
            # a session of its own: a Ctrl-C at the terminal goes to the recorder, which decides
            # when saving stops; the writer finishes what it was sent
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                pass_fds=(to_child_r, from_child_w),
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise RobotStackError(
                f"could not start the episode writer process ({exc})",
                hint="check that this Python can run `python -m robot_stack.store.sink_server`",
            ) from exc
        os.close(to_child_r)
        os.close(from_child_w)
        with self._send_lock:
            if self._outbox is not None:
                self._outbox.close()  # the pipe of a writer process that died
            self._outbox = Connection(to_child_w, readable=False)
        inbox = Connection(from_child_r, writable=False)
        threading.Thread(
            target=self._read_answers, args=(inbox, self._proc), name="episode-writer-answers", daemon=True
        ).start()

    def _read_answers(self, inbox: Connection, proc: subprocess.Popen) -> None:
        try:
            while True:
                try:
                    header, _arrays, _payload = receive(inbox)
                except (EOFError, OSError):
                    break
                with self._state_lock:
                    sink = self._episodes.pop(header["episode"], None)
                if sink is not None:
                    sink._answer(header)
        finally:
            inbox.close()
            proc.wait()
            with self._state_lock:
                orphans = [s for s in self._episodes.values() if s.proc is proc]
                for s in orphans:
                    self._episodes.pop(s.eid, None)
            gone = self._gone_error(proc)
            for sink in orphans:
                sink._answer({"op": "failed", "message": gone.message, "hint": gone.hint})

    def _gone_error(self, proc: subprocess.Popen | None = None) -> RobotStackError:
        proc = proc or self._proc
        code = None
        if proc is not None:
            try:  # a broken pipe comes a moment before the exit status
                code = proc.wait(1.0)
            except subprocess.TimeoutExpired:
                pass
        how = "is not running" if code is None else f"exited with code {code}"
        return RobotStackError(
            f"the episode writer process {how}; the episode in progress was dropped, earlier episodes are intact",
            hint="look above for its error message (a crash, or killed for memory), then resume with --resume",
        )


class RemoteSink:
    """One episode in the writer process; made by SinkProcess.open()."""

    def __init__(self, process: SinkProcess, proc: subprocess.Popen, eid: int, on_error):
        self._process = process
        self.proc = proc  # the writer process this episode lives in (a dead one is replaced)
        self.eid = eid
        self._on_error = on_error
        self._answered = threading.Event()
        self._answer_header: dict | None = None
        self.bytes_written = 0  # encoded frames sent so far; the final figure once finished

    def add_tick(self, t: float, rows: dict) -> None:
        self.check()
        self._process.send({"op": "tick", "episode": self.eid, "t": t}, rows)

    def add_frame(self, camera: str, t: float, t_device: float | None, jpeg: bytes) -> None:
        self.check()
        header = {"op": "frame", "episode": self.eid, "camera": camera, "t": t, "t_device": t_device}
        self._process.send(header, payload=jpeg)
        self.bytes_written += len(jpeg)

    def finish(self, final_attrs: dict, counters: dict) -> dict:
        """Seal the episode there (arrays, alignment, summary, fsync); the stats it stored."""
        self.check()
        self._process.send({"op": "finish", "episode": self.eid, "final": final_attrs, "counters": counters})
        self._answered.wait()
        self.check()
        answer = self._answer_header
        self.bytes_written = answer["stats"]["bytes_written"]
        return answer["stats"]

    def discard(self) -> None:
        """Drop the episode there; returns once its partial folder is gone."""
        if self._answered.is_set():
            return
        try:
            self._process.send({"op": "discard", "episode": self.eid})
        except RobotStackError:
            return  # the process is gone; the partial folder is the caller's to delete
        self._answered.wait()

    def check(self) -> None:
        """Raise the writer process's failure for this episode, if it reported one."""
        if self._answered.is_set() and self._answer_header["op"] == "failed":
            raise RobotStackError(self._answer_header["message"], hint=self._answer_header["hint"])

    def _answer(self, header: dict) -> None:
        self._answer_header = header
        self._answered.set()
        if header["op"] == "failed" and self._on_error is not None:
            self._on_error()
