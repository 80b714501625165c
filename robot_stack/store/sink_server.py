"""The writer process: every zarr write of a recording happens here, not in the recording process.

Why a process: zarr's write path is Python (asyncio, codec pipeline, empty-chunk checks) and costs
35–55 ms of CPU per 4 MiB shard of frames, all of it holding the interpreter lock. In the
recording process that lock is what the 50 Hz loop, the bus reads and the cameras wait for
(docs/recording.md measures the stalls). Here it costs nobody.

Started by sink_process.SinkProcess as `python -m robot_stack.store.sink_server IN_FD OUT_FD`; it
runs one EpisodeSink per episode the recorder opens, in the order messages arrive, and answers
`finished`, `discarded` or `failed`. While it writes an episode it holds a lock on that episode's
partial folder, so a crash cleaner never deletes a folder under a writer still alive.
It ignores Ctrl-C (the recorder decides when saving stops) and exits when its pipe closes or its
parent dies.
"""

from __future__ import annotations

import os
import signal
import sys
from multiprocessing.connection import Connection
from pathlib import Path

from robot_stack.errors import RobotStackError
from robot_stack.store.files import DirLock, remove_tree, write_failed_error
from robot_stack.store.jpeg import JpegCodec
from robot_stack.store.sink import CameraLayout, EpisodeSink
from robot_stack.store.sink_messages import receive, send

_PARENT_CHECK_S = 1.0


class _Open:
    """One episode being written: its sink and the lock on its partial folder."""

    def __init__(self, header: dict):
        self.dataset = Path(header["dataset"])
        self.path = Path(header["partial"])
        cameras = {name: CameraLayout(*fields) for name, fields in header["cameras"].items()}
        codec = JpegCodec(**header["codec"])
        self.sink = EpisodeSink(self.path, header["attrs"], cameras, codec, header["joint_names"])
        self.lock = DirLock(self.path)
        self.lock.acquire()


def serve(inbox: Connection, outbox: Connection, parent: int) -> None:
    episodes: dict[int, _Open] = {}
    failed: set[int] = set()  # messages already in the pipe for these are dropped
    while True:
        if not inbox.poll(_PARENT_CHECK_S):
            if os.getppid() != parent:
                return  # orphaned: the partial folders stay for the next open to report
            continue
        try:
            header, arrays, payload = receive(inbox)
        except EOFError:
            return
        op, eid = header["op"], header["episode"]
        if eid in failed:
            if op == "discard":
                send(outbox, {"op": "discarded", "episode": eid})
            continue
        try:
            if op == "open":
                episodes[eid] = _Open(header)
            elif op == "tick":
                episodes[eid].sink.add_tick(header["t"], arrays)
            elif op == "frame":
                episodes[eid].sink.add_frame(header["camera"], header["t"], header["t_device"], payload)
            elif op == "finish":
                stats = episodes[eid].sink.finish(header["final"], header["counters"])
                episodes.pop(eid).lock.release()
                send(outbox, {"op": "finished", "episode": eid, "stats": stats})
            elif op == "discard":
                episode = episodes.pop(eid, None)
                if episode is not None:
                    episode.lock.release()
                    remove_tree(episode.path)
                send(outbox, {"op": "discarded", "episode": eid})
            else:
                raise RobotStackError(f"the episode writer process got an unknown request {op!r}")
        except Exception as exc:  # noqa: BLE001 — every failure goes back to the recorder, named
            failed.add(eid)
            _report_failure(outbox, eid, episodes.pop(eid, None), header, exc)


def _report_failure(
    outbox: Connection, eid: int, episode: _Open | None, header: dict, exc: Exception
) -> None:
    dataset = episode.dataset if episode is not None else Path(header.get("dataset", "the dataset"))
    # the message reads free space before the partial episode is deleted and gives it back
    error = exc if isinstance(exc, RobotStackError) else write_failed_error(dataset, exc)
    if episode is not None:
        episode.lock.release()
        remove_tree(episode.path)
    elif "partial" in header:
        remove_tree(Path(header["partial"]))
    send(outbox, {"op": "failed", "episode": eid, "message": error.message, "hint": error.hint})


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inbox, outbox = Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False)
    serve(inbox, outbox, int(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
