"""Keys at the deploy daemon's terminal: the operator's hands stay on the leaders, one key away.

    t         take over: the leaders go limp and drive the followers (HG-DAgger)
    r         release: the policy drives again, from the current pose
    e/space   e-stop: hold, then park and the torque policy
    q         stop: park and exit (as Ctrl-C)

The same commands as `robot-stack ctl`, given to the executor directly; what it answers (a refusal,
e.g. takeover without leaders) becomes an event on the panel.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from robot_stack.app.terminal_keys import KeyReader

KEYS = {b"t": "takeover", b"T": "takeover", b"r": "release", b"R": "release"}
KEYS.update({b"e": "estop", b"E": "estop", b" ": "estop", b"q": "stop", b"Q": "stop"})
HELP = "keys: t take over · r release · e/space e-stop · q stop"
POLL_S = 0.05


class DeployKeys:
    """Polls the terminal on a thread; each key becomes `submit(command)`, whose answer is kept in
    `answers` for the panel. `stop` is set on q (the caller parks and exits)."""

    def __init__(
        self,
        submit: Callable[[str], tuple[bool, str, dict]],
        stop: threading.Event,
        reader: KeyReader | None = None,
    ):
        self.submit = submit
        self.stop = stop
        self.reader = reader or KeyReader(KEYS)
        self.answers: deque[str] = deque(maxlen=3)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="deploy-keys", daemon=True)

    def __enter__(self) -> DeployKeys:
        self.reader.open()
        if self.reader.active:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(1.0)
        self.reader.close()

    @property
    def help(self) -> str:
        return HELP if self.reader.active else ""

    def _run(self) -> None:
        while not self._done.wait(POLL_S):
            commands = self.reader.poll()
            if "estop" in commands:  # typed with others: it goes first, the rest after it
                commands = ["estop"] + [c for c in commands if c != "estop"]
            for command in commands:
                self.handle(command)

    def handle(self, command: str) -> None:
        if command == "stop":
            self.answers.append("q: stopping (park, then exit)")
            self.stop.set()
            return
        try:
            ok, error, _ = self.submit(command)
        except Exception as exc:  # noqa: BLE001 — the keys (e-stop among them) must keep working
            ok, error = False, f"failed: {exc}"
        self.answers.append(f"{command}: {'done' if ok else error}")
