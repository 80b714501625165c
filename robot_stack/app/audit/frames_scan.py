"""One pass over a camera's stored JPEG byte stream: is every frame there and whole, which frames repeat
the one before byte for byte, and the bytes of the few frames other checks asked for.

The stream is read in large slices cut at frame boundaries (the whole of it: this is what proves every
byte is readable), and each frame is checked for the JPEG start (FF D8) and end (FF D9) markers. A
frame is a duplicate when it has the same size as the one before *and* the same bytes; sizes come
from the offsets array, so bytes are compared only for the rare frames of equal size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

BLOCK_BYTES = 64 * 1024 * 1024
EOI_SLACK = 32  # some encoders pad after the end marker; look for it this far back


@dataclass
class FrameScan:
    frames: int
    bytes_read: int = 0
    bad: list[int] = field(default_factory=list)  # frames that are not a whole JPEG file
    duplicate: np.ndarray | None = None  # (M,) bool: frame i has the bytes of frame i-1
    wanted: dict[int, bytes] = field(default_factory=dict)  # frame index → its JPEG bytes
    error: str | None = None  # a read that failed, and where


def scan_frames(jpeg, offsets: np.ndarray, wanted: Iterable[int] = ()) -> FrameScan:
    """Read the stream `jpeg` (a zarr array or anything sliceable) frame by frame using `offsets`."""
    offsets = np.asarray(offsets, np.int64)
    m = max(len(offsets) - 1, 0)
    scan = FrameScan(m, duplicate=np.zeros(m, bool))
    wanted = sorted({int(i) for i in wanted if 0 <= int(i) < m})
    if m == 0:
        return scan
    sizes = np.diff(offsets)
    same_size = np.zeros(m, bool)
    same_size[1:] = sizes[1:] == sizes[:-1]
    stream_len = int(jpeg.shape[0])
    previous: bytes | None = None  # the last frame of the previous block, for a duplicate across blocks
    start = 0
    while start < m:
        end = _block_end(offsets, start)
        lo, hi = int(offsets[start]), int(offsets[end])
        if hi > stream_len:
            # the stream is shorter than the offsets say: integrity reports it; check what is there
            end = int(np.searchsorted(offsets, stream_len, side="right")) - 1
            if end <= start:
                scan.bad.extend(range(start, m))
                break
            lo, hi = int(offsets[start]), int(offsets[end])
        try:
            block = np.asarray(jpeg[lo:hi])
        except Exception as exc:  # noqa: BLE001 — a damaged shard is a finding
            scan.error = f"bytes {lo}–{hi} (frames {start}–{end - 1}) cannot be read: {str(exc)[:200]}"
            scan.bad.extend(range(start, end))
            start, previous = end, None
            continue
        scan.bytes_read += block.nbytes
        local = offsets[start : end + 1] - lo
        scan.bad.extend(start + int(i) for i in _not_jpeg(block, local))
        for i in np.flatnonzero(same_size[start:end]):
            k = start + int(i)
            here = block[local[i] : local[i + 1]]
            if k == start:
                scan.duplicate[k] = previous is not None and here.tobytes() == previous
            else:
                scan.duplicate[k] = np.array_equal(here, block[local[i - 1] : local[i]])
        for k in wanted[np.searchsorted(wanted, start) : np.searchsorted(wanted, end)]:
            scan.wanted[k] = block[local[k - start] : local[k - start + 1]].tobytes()
        previous = block[local[-2] : local[-1]].tobytes()
        start = end
    return scan


def _block_end(offsets: np.ndarray, start: int) -> int:
    """The first frame past `start` that would make the slice longer than BLOCK_BYTES (at least one frame)."""
    limit = offsets[start] + BLOCK_BYTES
    end = int(np.searchsorted(offsets, limit, side="right")) - 1
    return min(max(end, start + 1), len(offsets) - 1)


def _not_jpeg(block: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Indices (within the block) of frames without a JPEG start marker or end marker."""
    starts, ends = local[:-1], local[1:]
    sizes = ends - starts
    ok = sizes >= 4
    s = np.where(ok, starts, 0)
    e = np.where(ok, ends, 2)
    ok &= (block[s] == 0xFF) & (block[s + 1] == 0xD8)
    ok &= (block[e - 2] == 0xFF) & (block[e - 1] == 0xD9)
    for i in np.flatnonzero(~ok & (sizes >= 4) & (block[s] == 0xFF) & (block[s + 1] == 0xD8)):
        tail = block[max(starts[i], ends[i] - EOI_SLACK) : ends[i]].tobytes()
        ok[i] = b"\xff\xd9" in tail  # padding after the end marker is allowed
    return np.flatnonzero(~ok)
