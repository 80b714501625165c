"""Run a control loop on its own thread while the main thread shows its live panel.

Ctrl-C and SIGTERM set `stop` (the loop then parks and returns); the worker's exception, if any, is
re-raised in the caller once the panel is gone.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import TypeVar

from rich.console import Console, RenderableType
from rich.live import Live

T = TypeVar("T")


def run_with_panel(
    work: Callable[[threading.Event], T],
    panel: Callable[[], RenderableType],
    console: Console,
    stop: threading.Event | None = None,
    refresh_hz: float = 4,
) -> T:
    stop = stop or threading.Event()
    outcome: dict = {}

    def worker() -> None:
        try:
            outcome["value"] = work(stop)
        except BaseException as exc:  # noqa: BLE001 — re-raised in the caller
            outcome["error"] = exc

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=worker, name="control-loop")
    try:
        thread.start()
        with Live(get_renderable=panel, console=console, refresh_per_second=refresh_hz, transient=False):
            while thread.is_alive():
                thread.join(0.1)
    finally:
        stop.set()
        thread.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
