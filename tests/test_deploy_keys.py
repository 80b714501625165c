"""The deploy daemon's terminal keys: each key becomes the executor command it names, a refusal is
shown, q stops; without a terminal there are no keys and no thread."""

import io
import os
import threading
import time

from robot_stack.app.deploy_keys import HELP, KEYS, DeployKeys
from robot_stack.app.deploy_panel import deploy_panel
from robot_stack.app.terminal_keys import KeyReader


def wait_until(predicate, timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_keys_at_a_terminal_become_executor_commands():
    given = []

    def submit(command):
        given.append(command)
        if command == "release":
            return False, "not taken over", {}
        if command == "takeover" and given.count("takeover") > 1:
            raise RuntimeError("the command socket is gone")
        return True, "", {}

    stop = threading.Event()
    master, slave = os.openpty()
    try:
        with os.fdopen(os.dup(slave), "rb", buffering=0) as stream:
            with DeployKeys(submit, stop, KeyReader(KEYS, stream=stream)) as keys:
                assert keys.help == HELP
                os.write(master, b"tx\x1b[A")  # x and the up arrow mean nothing
                assert wait_until(lambda: given == ["takeover"])
                os.write(master, b"r")
                assert wait_until(lambda: given == ["takeover", "release"])
                assert wait_until(lambda: "release: not taken over" in keys.answers)
                os.write(master, b" ")
                assert wait_until(lambda: given[-1] == "estop")
                assert not stop.is_set()
                os.write(master, b"t")  # this time submitting fails: said, and the keys keep working
                assert wait_until(lambda: "takeover: failed: the command socket is gone" in keys.answers)
                os.write(master, b"re")  # typed together: the e-stop goes first
                assert wait_until(lambda: len(given) == 6)
                assert given[-2:] == ["estop", "release"]
                os.write(master, b"q")
                assert wait_until(stop.is_set)
                assert "q: stopping (park, then exit)" in keys.answers  # q parks through the caller
                panel = deploy_panel({"phase": "running"}, keys=[keys.help, *keys.answers])
                text = _text_of(panel)
                assert "t take over" in text and "q: stopping" in text
    finally:
        os.close(master)
        os.close(slave)


def test_without_a_terminal_there_are_no_keys():
    read_end, write_end = os.pipe()
    try:
        with os.fdopen(read_end, "rb") as pipe:
            with DeployKeys(
                lambda c: (True, "", {}), threading.Event(), KeyReader(KEYS, stream=pipe)
            ) as keys:
                assert keys.help == "" and not keys._thread.is_alive()
    finally:
        os.close(write_end)


def _text_of(renderable) -> str:
    from rich.console import Console

    console = Console(width=120, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()
