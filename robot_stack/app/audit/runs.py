"""Runs of True in a boolean series, and the time spans they cover (for messages and plot shading)."""

from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def spans(t: np.ndarray, mask: np.ndarray, limit: int = 50) -> tuple[tuple[float, float], ...]:
    """(t of a run's first sample, t of its last) for the first `limit` runs of True in `mask`."""
    return tuple((float(t[a]), float(t[b - 1])) for a, b in runs(mask)[:limit])
