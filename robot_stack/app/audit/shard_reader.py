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
        view = memoryview(out)
        for k in range(lo // self.shard, (hi - 1) // self.shard + 1):
            base = k * self.shard
            path = self.folder / "c" / str(k)
            if not path.exists():  # never written: the fill value, as zarr reads it
                out[max(lo, base) - lo : min(hi, base + self.shard) - lo] = self.fill
                continue
            with open(path, "rb", buffering=0) as f:
                chunks = self._index(k, f)
                first = max(lo - base, 0) // self.inner
                last = (min(hi - base, self.shard) - 1) // self.inner
                j = first
                while j <= last:
                    offset = int(chunks[j, 0])
                    start = base + j * self.inner  # where chunk j sits in the array
                    if offset == MISSING:
                        a, b = max(lo, start), min(hi, start + self.inner)
                        out[a - lo : b - lo] = self.fill
                        j += 1
                        continue
                    # chunks stored one after another in the file: read them in one go, straight
                    # into the output
                    run = j
                    while run < last and int(chunks[run + 1, 0]) == int(chunks[run, 0]) + self.inner:
                        run += 1
                    a, b = max(lo, start), min(hi, base + (run + 1) * self.inner)
                    f.seek(offset + a - start)
                    if f.readinto(view[a - lo : b - lo]) != b - a:
                        raise ValueError(f"shard c/{k} ended early")
                    j = run + 1
        return out

    def _index(self, k: int, f) -> np.ndarray:
        import google_crc32c

        size = f.seek(0, 2)
        if size < self.index_bytes:
            raise ValueError(f"shard c/{k} is {size} bytes, shorter than its index")
        f.seek(size - self.index_bytes)
        index = f.read(self.index_bytes)
        crc = np.frombuffer(index[-4:], "<u4")[0]
        if google_crc32c.value(index[:-4]) != crc:
            raise ValueError(
                f"shard c/{k}: the index checksum does not match (the file is damaged or cut short)"
            )
        chunks = np.frombuffer(index[:-4], "<u8").reshape(self.per_shard, 2)
        written = chunks[:, 0] != MISSING
        ends = chunks[written, 0] + chunks[written, 1]
        if (chunks[written, 1] != self.inner).any() or (ends > size - self.index_bytes).any():
            raise ValueError(f"shard c/{k}: its index points outside the file or at chunks of the wrong size")
        return chunks
