"""Pieces of the audit on their own: the frame-stream scan, the latency estimator, the SVG charts."""

import numpy as np
import pytest

from robot_stack.app.audit import frames_scan, latency
from robot_stack.app.audit.svg import Line, bar_chart, line_chart
from robot_stack.store import JpegCodec


def stream(frames: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    data = np.frombuffer(b"".join(frames), np.uint8)
    offsets = np.concatenate([[0], np.cumsum([len(f) for f in frames])]).astype(np.uint64)
    return data, offsets


@pytest.mark.parametrize("block", [10**9, 1500])  # one slice; many slices, duplicates across their edges
def test_scan_finds_broken_and_repeated_frames_and_returns_those_asked_for(block, monkeypatch):
    monkeypatch.setattr(frames_scan, "BLOCK_BYTES", block)
    codec = JpegCodec()
    rng = np.random.default_rng(0)
    images = [codec.encode(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)) for _ in range(6)]
    frames = [
        images[0],
        images[1],
        images[1],
        images[1],
        images[2][:-5],
        images[3],
        images[4] + b"\0\0",
        images[5],
    ]
    data, offsets = stream(frames)
    scan = frames_scan.scan_frames(data, offsets, wanted=[0, 5, 99])
    assert scan.bad == [4]  # cut short; trailing padding after the end marker (6) is fine
    assert scan.duplicate.tolist() == [False, False, True, True, False, False, False, False]
    assert scan.wanted == {0: frames[0], 5: frames[5]} and scan.bytes_read == len(data)
    short = frames_scan.scan_frames(
        data[: int(offsets[6])], offsets
    )  # the stream is shorter than its offsets
    assert short.bad == [4, 6, 7]


def test_steady_times_take_out_stamping_jitter_but_keep_gaps():
    rng = np.random.default_rng(1)
    slots = np.delete(np.arange(400), [100, 101, 102])
    exposed = 10.0 + slots / 30.0
    stamped = exposed + 0.02 + rng.uniform(0, 0.004, len(slots))
    steady = latency.steady_times(stamped)
    assert np.abs(steady - (exposed + 0.022)).max() < 0.001


def test_latency_is_read_from_the_changes_of_motion():
    """Image motion that follows joint speed 80 ms late is found 80 ms late, through noise."""
    rng = np.random.default_rng(2)
    tick_t = np.arange(0, 20, 0.02)
    speed = np.abs(np.sin(0.9 * tick_t) * np.sin(2.3 * tick_t)) + 0.2 * rng.random(len(tick_t))
    obs = np.cumsum(speed * 0.02)[:, None] * np.ones((1, 3))
    path = latency.path_length(tick_t, obs)
    frame_t = np.arange(0.5, 19.5, 1 / 30) + 0.08  # stamped 80 ms after exposure
    truth = np.interp(frame_t - 0.08, tick_t, path)
    energy = np.diff(truth) * 30 + rng.normal(0, 0.05, len(frame_t) - 1)
    est = latency.estimate([latency.lag_stats(frame_t, energy, tick_t, path)], min_z=5.0)
    assert est.latency_s == pytest.approx(0.08, abs=0.005) and est.z > 5
    noise = rng.normal(0, 1, len(frame_t) - 1)
    assert latency.estimate([latency.lag_stats(frame_t, noise, tick_t, path)], min_z=5.0).latency_s is None


def test_svg_charts_are_self_contained():
    t = np.linspace(0, 2, 50)
    svg = line_chart(
        [Line(t, np.sin(t), "#1f77b4"), Line(t, np.cos(t), "#ff7f0e", dashed=True)],
        shade=[(0.5, 1.0, "#d62728")],
    )
    assert (
        svg.startswith("<svg")
        and svg.count("<polyline") == 2
        and 'class="span"' in svg
        and "script" not in svg
    )
    flat = line_chart([Line(t, np.full(50, 0.3) + 1e-4 * np.sin(40 * t), "#000")], min_span=0.2)
    ys = [float(p.split(",")[1]) for p in flat.split('points="')[1].split('"')[0].split()]
    assert max(ys) - min(ys) < 1.0  # a still joint draws flat, its noise is not blown up
    bars = bar_chart(["0", "1"], [1.0, 3.0], highlight={1}, limit=2.0)
    assert bars.count("<rect") == 3 and "#d62728" in bars
