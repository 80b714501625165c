"""JPEG encoding off the writer thread, results handed back in the order frames arrived.

cv2.imencode releases the GIL, so plain threads encode in parallel (bench/store.py measures one
thread against two). `max_pending` bounds how many raw frames sit here beyond the hand-off queue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np


class OrderedEncoder:
    def __init__(self, encode: Callable[[np.ndarray], bytes], threads: int):
        self._encode = encode
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="jpeg") if threads > 0 else None
        self._pending: deque[tuple[object, Future | bytes]] = deque()
        self.max_pending = 2 * max(threads, 1)

    def submit(self, key, frame: np.ndarray) -> None:
        if self._pool is None:
            self._pending.append((key, self._encode(frame)))
        else:
            self._pending.append((key, self._pool.submit(self._encode, frame)))

    def ready(self, wait_all: bool = False) -> Iterator[tuple[object, bytes]]:
        """(key, encoded) for every finished frame at the head, waiting while too many are pending."""
        while self._pending:
            key, job = self._pending[0]
            must_wait = wait_all or len(self._pending) > self.max_pending
            if isinstance(job, Future) and not job.done() and not must_wait:
                return
            self._pending.popleft()
            yield key, job.result() if isinstance(job, Future) else job

    def close(self) -> None:
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
