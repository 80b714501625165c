"""The recorder's keys, read from the terminal without blocking and without Enter.

    n or →    next: save the take now (recording) / start recording now (reset phase)
    r         re-record: drop the take (or, in the reset phase, the episode just saved); same scene
    d         discard: drop the take (or the episode just saved); a new scene next
    q or Esc  stop: drop a take in progress (press n first to keep it), wait for saves, exit

stdin is switched to cbreak mode (no line buffering, no echo; Ctrl-C still interrupts) while the
reader is open, and restored on close — also when the recorder fails. When stdin is not a terminal
(a pipe, a test, CI) there are no keys: the recorder runs on its timers.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import tty

NEXT, RERECORD, DISCARD, STOP = "next", "re-record", "discard", "stop"

KEYS = {b"n": NEXT, b"N": NEXT, b"r": RERECORD, b"R": RERECORD, b"d": DISCARD, b"D": DISCARD}
KEYS.update({b"q": STOP, b"Q": STOP, b"\x1b": STOP})
RIGHT_ARROW = (b"\x1b[C", b"\x1bOC")
ESCAPE_WAIT_S = 0.03  # an arrow key's bytes arrive together; a lone Esc has nothing after it

HELP = "keys: n/→ next · r re-record · d discard · q/Esc stop"


def parse_keys(data: bytes) -> list[str]:
    """Commands in a chunk of terminal input; unknown bytes and escape sequences are ignored."""
    out, i = [], 0
    while i < len(data):
        if data[i : i + 1] == b"\x1b" and i + 1 < len(data):
            seq = next((s for s in RIGHT_ARROW if data.startswith(s, i)), None)
            if seq is not None:
                out.append(NEXT)
                i += len(seq)
                continue
            if data[i + 1 : i + 2] in (b"[", b"O"):  # another escape sequence (other arrows, F-keys)
                i += 3
                continue
        command = KEYS.get(data[i : i + 1])
        if command is not None:
            out.append(command)
        i += 1
    return out


class KeyReader:
    """`poll()` returns the commands typed since the last call, at once (never waits for a key)."""

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stdin
        self._fd: int | None = None
        self._saved = None

    @property
    def active(self) -> bool:
        return self._fd is not None

    def open(self) -> KeyReader:
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return self
        if not os.isatty(fd):
            return self
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self._fd = fd
        return self

    def close(self) -> None:
        if self._fd is not None:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._fd = None

    def __enter__(self) -> KeyReader:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def poll(self) -> list[str]:
        if self._fd is None:
            return []
        data = b""
        while select.select([self._fd], [], [], 0)[0]:
            chunk = os.read(self._fd, 64)
            if not chunk:
                break
            data += chunk
        if data.endswith(b"\x1b") and select.select([self._fd], [], [], ESCAPE_WAIT_S)[0]:
            data += os.read(self._fd, 64)  # the rest of an arrow key's sequence
        return parse_keys(data)
