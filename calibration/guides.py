"""Who moves the arm during calibration: a person following prompts, or the simulator's hand."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

SWEEP_STEPS = 9  # poses per joint on the way from one end of its range to the other


class Hand(Protocol):
    """The simulated rig's hand (`drivers.sim.rig.SimRig`, or `RemoteHand` for a running sim)."""

    def pose_arm(self, arm: str, q) -> None: ...

    def joint_ranges(self, arm: str) -> tuple[np.ndarray, np.ndarray]: ...


class RemoteHand:
    """The hand of a `robot-stack sim` running in another process, through its control socket."""

    def __init__(self, client):
        self.client = client

    def pose_arm(self, arm: str, q) -> None:
        self.client.call("pose", arm=arm, q=None if q is None else [float(v) for v in q])

    def joint_ranges(self, arm: str) -> tuple[np.ndarray, np.ndarray]:
        reply = self.client.call("ranges", arm=arm)
        return np.array(reply["lower"]), np.array(reply["upper"])


class AutoGuide:
    """The sim's hand does every move; `--auto` on a simulated rig."""

    def __init__(self, hand: Hand, console: Console | None = None, settle_s: float = 0.0):
        self.hand = hand
        self.console = console
        self.settle_s = settle_s  # real-time sim: let a read or two pass after each move

    def _say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, highlight=False)

    def _pose(self, arm: str, q: np.ndarray) -> None:
        self.hand.pose_arm(arm, q)
        if self.settle_s:
            time.sleep(self.settle_s)

    def place(self, arm: str, step: str, instruction: str, pose: np.ndarray, targets) -> None:
        self._say(f"  {arm}: {instruction}")
        self._pose(arm, pose)

    def sweep(self, arm: str, instruction: str, sample: Callable[[], np.ndarray]) -> None:
        self._say(f"  {arm}: {instruction}")
        lower, upper = self.hand.joint_ranges(arm)
        base = np.clip(np.zeros(len(lower)), lower, upper)
        for j in range(len(lower)):
            for value in np.concatenate(
                [np.linspace(0, lower[j], SWEEP_STEPS), np.linspace(lower[j], upper[j], SWEEP_STEPS)]
            ):
                q = base.copy()
                q[j] = np.clip(value, lower[j], upper[j])
                self._pose(arm, q)
                sample()
        self._pose(arm, base)

    def done(self, arm: str) -> None:
        self.hand.pose_arm(arm, None)


class InteractiveGuide:
    """Prompts a person through each step; Enter confirms."""

    def __init__(self, console: Console, ask: Callable[[str], str] = input):
        self.console = console
        self.ask = ask

    def place(self, arm: str, step: str, instruction: str, pose: np.ndarray, targets) -> None:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="cyan")
        table.add_column(justify="right")
        for joint, text in targets:
            table.add_row(joint, text)
        self.console.print(
            Panel(
                table, title=f"[bold]{arm}[/]: put the arm in {instruction}", title_align="left", expand=False
            )
        )
        self.ask("  press Enter when it is there (hold it still) ")

    def sweep(self, arm: str, instruction: str, sample: Callable[[], np.ndarray]) -> None:
        stop = threading.Event()
        errors: list[BaseException] = []

        def sampler() -> None:
            try:
                while not stop.is_set():
                    sample()
                    time.sleep(0.01)
            except BaseException as exc:  # noqa: BLE001 — re-raised in the caller's thread
                errors.append(exc)

        thread = threading.Thread(target=sampler, name="calibration-sweep", daemon=True)
        thread.start()
        self.console.print(f"[bold]{arm}[/]: move {instruction}, slowly, to both ends.")
        try:
            self.ask("  press Enter when every joint has been to both ends ")
        finally:
            stop.set()
            thread.join()
        if errors:
            raise errors[0]

    def done(self, arm: str) -> None:
        self.console.print(f"[green]{arm} calibrated[/]; you can let go.")
