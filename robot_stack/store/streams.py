"""The writer thread's buffers for one episode: per-tick rows in memory, encoded frames streamed to disk.

Per-tick data and timestamps are small (an hour at 50 Hz with 14 joints is ~10 MB), so they are
kept in growable arrays and written once, at the end, with their final shapes. Encoded frames are
not small: they go to disk a shard (4 MiB) at a time as they arrive, so memory stays flat however
long the episode runs.
"""

from __future__ import annotations

import numpy as np
import zarr

from robot_stack.store.layout import FRAME_INNER_CHUNK, FRAME_SHARD, TICK_CHUNK


class Growable:
    """Rows appended one at a time into a numpy array that doubles when full."""

    def __init__(self, dtype, row_shape: tuple = (), capacity: int = 1024):
        self._a = np.empty((capacity, *row_shape), dtype)
        self.n = 0

    def append(self, row) -> None:
        if self.n == len(self._a):
            bigger = np.empty((2 * len(self._a), *self._a.shape[1:]), self._a.dtype)
            bigger[: self.n] = self._a
            self._a = bigger
        self._a[self.n] = row
        self.n += 1

    def array(self) -> np.ndarray:
        return self._a[: self.n]


def write_rows(group: zarr.Group, name: str, data: np.ndarray, attrs: dict | None = None) -> int:
    """Write a whole per-tick (or per-frame) array in one go; returns the bytes handed to the store."""
    chunks = (TICK_CHUNK, *data.shape[1:])
    arr = group.create_array(name, shape=data.shape, dtype=data.dtype, chunks=chunks, attributes=attrs or {})
    if data.size:
        arr[...] = data
    return int(data.nbytes)


class FrameStream:
    """One camera's frames: JPEG files back to back in `jpeg`, located by `jpeg_offsets`, plus timestamps."""

    def __init__(self, group: zarr.Group):
        self.group = group
        self.jpeg = group.create_array(
            "jpeg",
            shape=(0,),
            dtype="uint8",
            chunks=(FRAME_INNER_CHUNK,),
            shards=(FRAME_SHARD,),
            compressors=None,  # JPEG data does not compress further; trying costs CPU
            fill_value=0,
            attributes={
                "content": "JPEG files back to back; frame i is jpeg[jpeg_offsets[i]:jpeg_offsets[i+1]]"
            },
        )
        self.offsets = Growable(np.uint64)
        self.offsets.append(0)
        self.t = Growable(np.float64)
        self.t_device = Growable(np.float64)
        self._pending = bytearray()
        self._flushed = 0
        self.bytes_written = 0

    def add(self, t: float, t_device: float | None, data: bytes) -> None:
        self._pending += data
        self.offsets.append(self._flushed + len(self._pending))
        self.t.append(t)
        self.t_device.append(np.nan if t_device is None else t_device)
        if len(self._pending) >= FRAME_SHARD:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        # whole shards only until the end: writing part of a shard would make zarr rewrite it later
        n = len(self._pending) if final else (len(self._pending) // FRAME_SHARD) * FRAME_SHARD
        if n == 0:
            return
        start = self._flushed
        self.jpeg.resize((start + n,))
        self.jpeg[start : start + n] = np.frombuffer(self._pending, np.uint8, count=n)
        del self._pending[:n]
        self._flushed += n
        self.bytes_written += n

    def finish(self, tick: np.ndarray) -> int:
        """Flush what is left, then write offsets, timestamps and the per-tick frame index."""
        self._flush(final=True)
        written = write_rows(self.group, "jpeg_offsets", self.offsets.array())
        written += write_rows(self.group, "t", self.t.array())
        t_device = self.t_device.array()
        if np.isfinite(t_device).any():  # only cameras that stamp frames themselves get the array
            written += write_rows(self.group, "t_device", t_device)
        written += write_rows(self.group, "tick", tick)
        self.bytes_written += written
        return written


class TickBuffer:
    """Per-tick rows: time, observation, action, and whatever extras the first tick brought."""

    def __init__(self):
        self.t = Growable(np.float64)
        self.columns: dict[str, Growable] = {}

    def add(self, t: float, rows: dict[str, np.ndarray]) -> None:
        if not self.columns:
            self.columns = {name: Growable(v.dtype, v.shape) for name, v in rows.items()}
        self.t.append(t)
        for name, value in rows.items():
            self.columns[name].append(value)

    def finish(self, group: zarr.Group) -> int:
        written = write_rows(group, "t", self.t.array())
        for name, column in self.columns.items():
            written += write_rows(group, name, column.array())
        return written
