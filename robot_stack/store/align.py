"""Which camera frame goes with which control tick — computed explicitly, stored, and re-checkable.

A tick at time t goes with the latest frame captured at or before t. A camera whose timestamps are
taken when the host *receives* the frame (not when the sensor exposed it) is late by a roughly fixed
latency; `latency_s` moves its timestamps back by that much before matching, so a tick is never
paired with a frame that shows the future.
"""

from __future__ import annotations

import numpy as np


def align_frames(tick_t, frame_t, latency_s: float = 0.0) -> np.ndarray:
    """(N,) int32: for each tick, the index of its frame in `frame_t`, or -1 if none was captured yet.

    Frame timestamps need not be sorted; among frames with equal timestamps the one stored last wins.
    """
    tick_t = np.asarray(tick_t, np.float64)
    captured = np.asarray(frame_t, np.float64) - float(latency_s)
    if captured.size == 0:
        return np.full(tick_t.shape, -1, np.int32)
    order = np.argsort(captured, kind="stable")
    pos = np.searchsorted(captured[order], tick_t, side="right") - 1
    return np.where(pos >= 0, order[np.maximum(pos, 0)], -1).astype(np.int32)


def frame_age(tick_t, frame_t, tick_frame, latency_s: float = 0.0) -> np.ndarray:
    """(N,) float64 seconds between each tick and the capture of its frame; NaN where it has none.

    A camera that stalls shows up here as an age that keeps growing, instead of being hidden behind
    a repeated frame.
    """
    tick_t = np.asarray(tick_t, np.float64)
    tick_frame = np.asarray(tick_frame)
    frame_t = np.asarray(frame_t, np.float64)
    age = np.full(tick_t.shape, np.nan)
    has = tick_frame >= 0
    age[has] = tick_t[has] - (frame_t[tick_frame[has]] - float(latency_s))
    return age
