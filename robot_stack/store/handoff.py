"""The hand-off from the control loop to the writer thread: bounded by bytes, and never blocking the caller.

A frame is ~1 MB and a tick ~100 bytes, so a count of items says little about memory; the bound is
on bytes. `offer` answers at once: True if the item was queued, False if it would overflow the
budget — the caller counts and reports that, it is never dropped in silence. `put_control` (finish,
discard) always gets in, so an episode can always be closed.
"""

from __future__ import annotations

import threading
from collections import deque


class ByteBoundedQueue:
    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._items: deque = deque()
        self._bytes = 0
        self._peak = 0
        self._cond = threading.Condition()

    def offer(self, item, nbytes: int) -> bool:
        with self._cond:
            if self._bytes + nbytes > self.max_bytes and self._items:
                return False
            # an empty queue takes any one item, so a budget smaller than one frame still records
            self._items.append((item, nbytes))
            self._bytes += nbytes
            self._peak = max(self._peak, self._bytes)
            self._cond.notify()
            return True

    def put_control(self, item) -> None:
        with self._cond:
            self._items.append((item, 0))
            self._cond.notify()

    def get(self):
        with self._cond:
            while not self._items:
                self._cond.wait()
            item, nbytes = self._items.popleft()
            self._bytes -= nbytes
            return item

    def clear(self) -> None:
        with self._cond:
            self._items.clear()
            self._bytes = 0

    @property
    def depth(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return self._bytes

    @property
    def peak_bytes(self) -> int:
        return self._peak
