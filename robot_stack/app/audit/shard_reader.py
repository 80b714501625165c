"""Reading a camera's JPEG byte stream straight from its shard files, by the zarr v3 sharding spec.

The audit reads every stored byte, and zarr-python spends ~20× longer per byte than the file system
on this layout (a 4 MiB shard of 64 inner chunks goes through its codec pipeline chunk by chunk;
measured in docs/audit.md). The layout is simple and specified (zarr v3 `sharding_indexed`): a shard
file holds the inner chunks, then an index of (offset, length) pairs as little-endian uint64 — both
all-ones for a chunk never written — followed by the index's CRC32C. This reader accepts exactly the
layout the store writes (1-D uint8, raw inner chunks, index at the end with crc32c) and checks the
index checksum and every chunk's place; for anything else `open` returns None and the audit reads
through zarr. A missing shard or chunk reads as the fill value, as in zarr.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MISSING = 2**64 - 1


class ShardedBytes:
    def __init__(self, folder: Path, length: int, shard: int, inner: int, fill: int):
        self.folder = folder
        self.shape = (length,)
        self.shard = shard
        self.inner = inner
        self.fill = fill
        self.per_shard = shard // inner
        self.index_bytes = self.per_shard * 16 + 4
        self._cached: tuple[int, bytes | None] | None = None

    @classmethod
    def open(cls, folder: Path) -> ShardedBytes | None:
        """A reader for the array in `folder`, or None when its layout is not the one understood here."""
        try:
            import google_crc32c  # noqa: F401 — zarr's own dependency for the crc32c codec

            meta = json.loads((Path(folder) / "zarr.json").read_text())
            (codec,) = meta["codecs"]
            config = codec["configuration"]
            (inner,) = config["chunk_shape"]
            (shard,) = meta["chunk_grid"]["configuration"]["chunk_shape"]
            index_codecs = [c["name"] for c in config["index_codecs"]]
            endian = config["index_codecs"][0].get("configuration", {}).get("endian", "little")
            key = meta["chunk_key_encoding"]
            understood = (
                meta.get("zarr_format") == 3
                and meta.get("data_type") == "uint8"
                and len(meta["shape"]) == 1
                and not meta.get("storage_transformers")
                and codec["name"] == "sharding_indexed"
                and [c["name"] for c in config["codecs"]] == ["bytes"]
                and index_codecs == ["bytes", "crc32c"]
                and endian == "little"
                and config.get("index_location", "end") == "end"
                and key["name"] == "default"
                and key.get("configuration", {}).get("separator", "/") == "/"
                and shard % inner == 0
            )
            if not understood:
                return None
            return cls(
                Path(folder), int(meta["shape"][0]), int(shard), int(inner), int(meta.get("fill_value") or 0)
            )
        except (OSError, ValueError, KeyError, TypeError, ImportError):
            return None

    def __getitem__(self, key: slice) -> np.ndarray:
        lo, hi, step = key.indices(self.shape[0])
        if step != 1:
            raise ValueError("only contiguous slices")
        out = np.empty(max(hi - lo, 0), np.uint8)
        if hi <= lo:
            return out
        for k in range(lo // self.shard, (hi - 1) // self.shard + 1):
            data = self._shard(k)
            if data is None:  # never written: the fill value, as zarr reads it
                a, b = max(lo, k * self.shard), min(hi, (k + 1) * self.shard)
                out[a - lo : b - lo] = self.fill
                continue
            chunks = self._index(k, data)
            base = k * self.shard
            first = max(lo - base, 0) // self.inner
            last = (min(hi - base, self.shard) - 1) // self.inner
            for j in range(first, last + 1):
                offset, length = chunks[j]
                start = base + j * self.inner  # where this chunk sits in the array
                a, b = max(lo, start), min(hi, start + self.inner)
                if offset == MISSING:
                    out[a - lo : b - lo] = self.fill
                else:
                    out[a - lo : b - lo] = np.frombuffer(data, np.uint8, b - a, int(offset) + a - start)
        return out

    def _shard(self, k: int) -> bytes | None:
        if self._cached is not None and self._cached[0] == k:
            return self._cached[1]
        path = self.folder / "c" / str(k)
        data = path.read_bytes() if path.exists() else None
        self._cached = (k, data)
        return data

    def _index(self, k: int, data: bytes) -> np.ndarray:
        import google_crc32c

        if len(data) < self.index_bytes:
            raise ValueError(f"shard c/{k} is {len(data)} bytes, shorter than its index")
        index = data[-self.index_bytes :]
        crc = np.frombuffer(index[-4:], "<u4")[0]
        if google_crc32c.value(index[:-4]) != crc:
            raise ValueError(
                f"shard c/{k}: the index checksum does not match (the file is damaged or cut short)"
            )
        chunks = np.frombuffer(index[:-4], "<u8").reshape(self.per_shard, 2)
        written = chunks[:, 0] != MISSING
        ends = chunks[written, 0] + chunks[written, 1]
        if (chunks[written, 1] != self.inner).any() or (ends > len(data) - self.index_bytes).any():
            raise ValueError(f"shard c/{k}: its index points outside the file or at chunks of the wrong size")
        return chunks
