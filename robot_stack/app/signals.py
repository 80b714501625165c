"""Ctrl-C and SIGTERM set a stop event, without taking a lock inside the signal handler.

A Python signal handler runs in the main thread between two of its bytecodes. If the main thread is
inside `stop.wait()` at that moment it holds the event's lock, and a handler calling `stop.set()`
waits for that lock forever: `robot-stack sim` hung that way after a SIGTERM, keeping its ports.
Here the handler does nothing in Python; the interpreter's C-level handler writes the signal's
number to a socket (`signal.set_wakeup_fd`) and a watcher thread sets the event.

    stop = threading.Event()
    with stop_on_signals(stop):
        while not stop.wait(0.1):
            ...
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Iterator


def _ignore(*_) -> None:
    pass  # the work is done by the watcher thread; a Python handler must still be installed


@contextlib.contextmanager
def stop_on_signals(
    stop: threading.Event, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)
) -> Iterator[None]:
    """Set `stop` on any of `signals` while inside the block. A no-op outside the main thread
    (signals only ever reach the main thread's handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    receiver, sender = socket.socketpair()
    sender.setblocking(False)
    wanted = {int(s) for s in signals}

    def watch() -> None:
        while True:
            try:
                data = receiver.recv(64)
            except OSError:
                return
            if not data:
                return
            if wanted.intersection(data):
                stop.set()

    watcher = threading.Thread(target=watch, name="signal-watch", daemon=True)
    watcher.start()
    previous_fd = signal.set_wakeup_fd(sender.fileno(), warn_on_full_buffer=False)
    previous = {sig: signal.signal(sig, _ignore) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_fd)
        sender.close()  # the watcher reads end-of-file and returns
        watcher.join(1.0)
        receiver.close()
