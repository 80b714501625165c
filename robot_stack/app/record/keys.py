"""The recorder's keys (read by `robot_stack.app.terminal_keys`, without blocking and without Enter).

    n or →    next: save the take now (recording) / start recording now (reset phase)
    r         re-record: drop the take (or, in the reset phase, the episode just saved); same scene
    d         discard: drop the take (or the episode just saved); a new scene next
    q or Esc  stop: drop a take in progress (press n first to keep it), wait for saves, exit

When stdin is not a terminal (a pipe, a test, CI) there are no keys: the recorder runs on its timers.
"""

from __future__ import annotations

from robot_stack.app import terminal_keys

NEXT, RERECORD, DISCARD, STOP = "next", "re-record", "discard", "stop"

KEYS = {b"n": NEXT, b"N": NEXT, b"r": RERECORD, b"R": RERECORD, b"d": DISCARD, b"D": DISCARD}
KEYS.update({b"q": STOP, b"Q": STOP, b"\x1b": STOP})
RIGHT_ARROW = {b"\x1b[C": NEXT, b"\x1bOC": NEXT}

HELP = "keys: n/→ next · r re-record · d discard · q/Esc stop"


def parse_keys(data: bytes) -> list[str]:
    return terminal_keys.parse_keys(data, KEYS, RIGHT_ARROW)


class KeyReader(terminal_keys.KeyReader):
    def __init__(self, stream=None):
        super().__init__(KEYS, RIGHT_ARROW, stream)
