"""Single keys from the terminal, read without blocking and without Enter, for the live workflows.

stdin is switched to cbreak mode (no line buffering, no echo; Ctrl-C still interrupts) while the
reader is open, and restored on close — also when the workflow fails. When stdin is not a terminal
(a pipe, a test, CI) there are no keys: `poll()` always returns nothing.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import tty

ESCAPE_WAIT_S = 0.03  # an arrow key's bytes arrive together; a lone Esc has nothing after it


def parse_keys(data: bytes, keymap: dict[bytes, str], sequences: dict[bytes, str] | None = None) -> list[str]:
    """Commands in a chunk of terminal input: single bytes through `keymap`, escape sequences (arrow
    keys) through `sequences`; unknown bytes and other escape sequences are ignored."""
    sequences = sequences or {}
    out, i = [], 0
    while i < len(data):
        if data[i : i + 1] == b"\x1b" and i + 1 < len(data):
            seq = next((s for s in sequences if data.startswith(s, i)), None)
            if seq is not None:
                out.append(sequences[seq])
                i += len(seq)
                continue
            if data[i + 1 : i + 2] in (b"[", b"O"):  # another escape sequence (other arrows, F-keys)
                i += 3
                continue
        command = keymap.get(data[i : i + 1])
        if command is not None:
            out.append(command)
        i += 1
    return out


class KeyReader:
    """`poll()` returns the commands typed since the last call, at once (never waits for a key)."""

    def __init__(self, keymap: dict[bytes, str], sequences: dict[bytes, str] | None = None, stream=None):
        self.keymap = keymap
        self.sequences = sequences or {}
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
        return parse_keys(data, self.keymap, self.sequences)
