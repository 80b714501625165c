"""A small ring of the newest frames, so a reader that drains now and then still gets every frame."""

from __future__ import annotations

from collections import deque

from drivers.cameras.frame import Frame


class FrameRing:
    """Newest `size` frames in index order. Not thread-safe on its own: the camera holds a lock around it."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"a frame ring needs room for at least one frame, not {size}")
        self._frames: deque[Frame] = deque(maxlen=size)

    def push(self, frame: Frame) -> None:
        self._frames.append(frame)

    def newest(self) -> Frame | None:
        return self._frames[-1] if self._frames else None

    def since(self, index: int) -> tuple[list[Frame], int]:
        """Frames with an index above `index`, oldest first, and how many of those the ring already lost."""
        if not self._frames or self._frames[-1].index <= index:
            return [], 0
        oldest = self._frames[0].index
        missed = max(0, oldest - index - 1)
        start = max(0, index + 1 - oldest)
        return [self._frames[i] for i in range(start, len(self._frames))], missed

    def clear(self) -> None:
        self._frames.clear()
