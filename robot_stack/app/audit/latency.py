"""Camera latency from the data itself: when do the pictures move, compared with when the joints move?

For a window of consecutive frames, the image motion between frames i−1 and i (mean absolute
difference of small greyscale decodes) is compared with the follower's joint speed over the same
interval moved back by a lag L: the summed |Δq| of all joints over [t(i−1) − L, t(i) − L], from the
cumulative joint path. Both series are differenced (over 1, 2 and 3 frames, pooled) before they are
correlated: motion is smooth, so the raw series correlate over a broad range of lags and their peak
is pulled around by whatever else moves in the picture; their changes (speeding up, slowing down)
pin the lag down to a few milliseconds, and the longer steps keep pixel noise from drowning them. The correlation, as a function of L, peaks where L is the delay of the camera's
stored timestamps behind the joint stream — a camera stamped on arrival at the host is late by its
transport latency. Windows of several episodes are pooled (their sums of products added), which is
what makes the estimate firm; one short episode alone gives a rough one.

The estimate is a correction for the alignment: `align_frames(tick_t, frame_t, latency_s)` pairs
each tick with the frame truly captured before it once `latency_s` is the estimate, and
`begin_episode(camera_latency_s={...})` stores it with new recordings (docs/audit.md).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

LAGS_S = np.round(np.arange(-0.2, 0.5 + 1e-9, 0.005), 6)  # lags searched: 200 ms early … 500 ms late
MIN_SAMPLES = 40  # frame intervals needed for an episode's own estimate
WINDOW_MIN = 100  # frames decoded per episode and camera, at the least (when an episode gets a window)
DIFF_STEPS = (1, 2, 3)  # changes over 1, 2 and 3 frame intervals: sharp, yet not all noise


@dataclass(frozen=True)
class LagStats:
    """Sums of products of the (differenced, centred) image-motion and joint-speed series, per lag.
    Adding two pools their windows."""

    xy: np.ndarray  # (lags,)
    xx: np.ndarray  # (lags,)
    yy: float
    samples: int

    def __add__(self, other: LagStats) -> LagStats:
        return LagStats(
            self.xy + other.xy, self.xx + other.xx, self.yy + other.yy, self.samples + other.samples
        )

    def correlation(self) -> np.ndarray:
        denom = np.sqrt(self.xx * self.yy)
        return np.where(denom > 0, self.xy / np.where(denom > 0, denom, 1.0), 0.0)


@dataclass(frozen=True)
class LatencyEstimate:
    latency_s: float | None  # None when image motion and joint motion do not agree clearly enough
    peak_r: float
    samples: int
    curve: np.ndarray  # (len(LAGS_S),)
    best_lag_s: float = float("nan")  # where the correlation peaks, trusted or not

    @property
    def z(self) -> float:
        return self.peak_r * float(np.sqrt(self.samples))

    def as_dict(self) -> dict:
        return {
            "latency_s": self.latency_s,
            "best_lag_s": self.best_lag_s,
            "peak_r": self.peak_r,
            "z": self.z,
            "samples": self.samples,
        }


def path_length(tick_t: np.ndarray, observation: np.ndarray) -> np.ndarray:
    """(N,) cumulative joint path length (sum of |Δq| over joints) at each tick."""
    steps = np.abs(np.diff(observation.astype(np.float64), axis=0)).sum(axis=1)
    return np.concatenate([[0.0], np.cumsum(steps)])


def choose_window(
    frame_t: np.ndarray, tick_t: np.ndarray, path: np.ndarray, n_frames: int
) -> tuple[int, int]:
    """[i0, i1): the `n_frames` consecutive frames inside the tick span whose joint speed varies most."""
    m = len(frame_t)
    lo = int(np.searchsorted(frame_t, tick_t[0] + LAGS_S[-1], side="left"))
    hi = int(np.searchsorted(frame_t, tick_t[-1] + LAGS_S[0], side="right"))
    lo, hi = min(lo, m), max(min(hi, m), 0)
    if hi - lo <= n_frames:
        return lo, hi
    p = np.interp(frame_t[lo:hi], tick_t, path)
    speed = np.diff(p) / np.maximum(np.diff(frame_t[lo:hi]), 1e-6)
    c1 = np.concatenate([[0.0], np.cumsum(speed)])
    c2 = np.concatenate([[0.0], np.cumsum(speed**2)])
    w = n_frames - 1
    var = (c2[w:] - c2[:-w]) / w - ((c1[w:] - c1[:-w]) / w) ** 2
    start = lo + int(np.argmax(var))
    return start, start + n_frames


def reduced_flag(width: int) -> int:
    """An OpenCV decode mode giving a greyscale picture about 80–160 pixels wide (JPEG DCT scaling:
    a fraction of the work of a full decode)."""
    if width >= 640:
        return cv2.IMREAD_REDUCED_GRAYSCALE_8
    if width >= 320:
        return cv2.IMREAD_REDUCED_GRAYSCALE_4
    if width >= 160:
        return cv2.IMREAD_REDUCED_GRAYSCALE_2
    return cv2.IMREAD_GRAYSCALE


def motion_energy(jpegs: list[bytes], width: int, pool: ThreadPoolExecutor | None = None) -> np.ndarray:
    """(k−1,) mean absolute grey-level change between consecutive frames; NaN where one is unreadable."""
    flag = reduced_flag(width)

    def decode(data: bytes):
        return cv2.imdecode(np.frombuffer(data, np.uint8), flag)

    images = list(pool.map(decode, jpegs) if pool is not None else map(decode, jpegs))
    out = np.full(max(len(images) - 1, 0), np.nan)
    for i in range(1, len(images)):
        a, b = images[i - 1], images[i]
        if a is not None and b is not None and a.shape == b.shape:
            out[i - 1] = cv2.absdiff(a, b).mean()
    return out


def steady_times(frame_t: np.ndarray) -> np.ndarray:
    """Frame times with the host's stamping jitter taken out: a camera exposes on its own steady clock,
    so the times are fitted by a straight line over the frame slots (a lost frame leaves its slot
    empty). Differencing would otherwise turn a few milliseconds of jitter into most of the signal."""
    if len(frame_t) < 3:
        return frame_t
    period = float(np.median(np.diff(frame_t)))
    if period <= 0:
        return frame_t
    # slot by slot, so a slightly wrong period never accumulates into a wrong slot far down the line
    slot = np.concatenate([[0.0], np.cumsum(np.maximum(np.rint(np.diff(frame_t) / period), 1.0))])
    slope, offset = np.polyfit(slot, frame_t - frame_t[0], 1)
    steady = frame_t[0] + offset + slope * slot
    # keep the stamps if they do not sit on a steady clock at all (then the fit would invent one)
    return steady if np.median(np.abs(steady - frame_t)) < 0.25 * period else frame_t


def lag_stats(
    frame_t: np.ndarray, energy: np.ndarray, tick_t: np.ndarray, path: np.ndarray
) -> LagStats | None:
    """Image motion between frames i−1 and i (stamped `frame_t`) against joint speed over the same
    interval moved back by each lag; both differenced over DIFF_STEPS frames and centred, as sums of
    products pooled over the steps."""
    frame_t = steady_times(frame_t)
    t0, t1 = frame_t[:-1], frame_t[1:]
    dt = t1 - t0
    period = float(np.median(dt)) if len(dt) else 0.0
    # a gap (a lost frame) changes what one difference spans: such intervals break the series
    ok = np.isfinite(energy) & (dt > 0) & (dt < 1.5 * period)
    ok &= (t0 - LAGS_S[-1] >= tick_t[0]) & (t1 - LAGS_S[0] <= tick_t[-1])
    lags = LAGS_S[:, None]
    speed = (np.interp(t1 - lags, tick_t, path) - np.interp(t0 - lags, tick_t, path)) / np.maximum(dt, 1e-9)
    energy = np.where(ok, energy, 0.0)
    total, samples = None, 0
    for k in DIFF_STEPS:
        if len(ok) <= k:
            break
        pair = np.convolve(~ok, np.ones(k + 1), "valid") == 0  # every interval from i to i+k is good
        if pair.sum() < 3:
            continue
        y = (energy[k:] - energy[:-k])[pair]
        x = (speed[:, k:] - speed[:, :-k])[:, pair]  # (lags, pairs)
        y = y - y.mean()
        x = x - x.mean(axis=1, keepdims=True)
        part = LagStats(x @ y, (x**2).sum(axis=1), float(y @ y), int(pair.sum()))
        total = part if total is None else total + part
        samples = samples or part.samples
    if total is None:
        return None
    # the steps reuse the same frames: count the samples once, for an honest z
    return LagStats(total.xy, total.xx, total.yy, samples)


def estimate(stats: list[LagStats | None], min_z: float) -> LatencyEstimate | None:
    """Pool windows and read the lag where image motion and joint speed agree best, refined between
    the lag steps. `latency_s` is None when the peak is at the edge of the lags searched, or not
    clearly above chance: r·√samples (≈ a z-score, since r of unrelated series spreads as 1/√n)
    under `min_z`."""
    stats = [x for x in stats if x is not None]
    if not stats:
        return None
    pooled = stats[0]
    for x in stats[1:]:
        pooled = pooled + x
    r = pooled.correlation()
    k = int(np.argmax(r))
    peak = float(r[k])
    lag = float(LAGS_S[k])
    if 0 < k < len(r) - 1:
        a, b, c = r[k - 1], r[k], r[k + 1]
        bend = a - 2 * b + c
        if bend < 0:
            lag += 0.5 * (a - c) / bend * (LAGS_S[1] - LAGS_S[0])
    trusted = peak * np.sqrt(pooled.samples) >= min_z and 0 < k < len(r) - 1
    return LatencyEstimate(lag if trusted else None, peak, pooled.samples, r, lag)
