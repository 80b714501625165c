"""Run a control loop on its own thread while the main thread shows its live panel.

Ctrl-C and SIGTERM set `stop` (the loop then parks and returns); the worker's exception, if any, is
re-raised in the caller once the panel is gone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from rich.console import Console, RenderableType
from rich.live import Live

from robot_stack.app.signals import stop_on_signals

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

    thread = threading.Thread(target=worker, name="control-loop")
    with stop_on_signals(stop):
        try:
            thread.start()
            with Live(get_renderable=panel, console=console, refresh_per_second=refresh_hz, transient=False):
                while thread.is_alive():
                    thread.join(0.1)
        finally:
            stop.set()
            thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
