"""Which frame goes with which tick: latest captured at or before the tick, after the latency correction."""

import numpy as np

from robot_stack.store import align_frames, frame_age
from robot_stack.store.summary import camera_summary, tick_summary

TICKS = np.arange(10) * 0.02  # 50 Hz: 0.00 … 0.18


def test_latest_frame_at_or_before_each_tick():
    frames = np.array([0.005, 0.040, 0.070, 0.100, 0.140])
    np.testing.assert_array_equal(align_frames(TICKS, frames), [-1, 0, 1, 1, 2, 3, 3, 4, 4, 4])


def test_frame_exactly_at_tick_time_counts():
    np.testing.assert_array_equal(align_frames([0.0, 0.02], [0.02]), [-1, 0])


def test_dropped_frame_keeps_the_previous_one_and_shows_in_age_and_stats():
    period = 1 / 30
    frame_t = np.delete(np.arange(8) * period, 3)  # frame 3 never arrived
    tick = align_frames(TICKS, frame_t)
    # ticks at 0.10 and 0.12 would have had the frame at 0.1; now they see the one at 0.0667 (index 2)
    assert tick[5] == 2 and tick[6] == 2 and tick[7] == 3  # index 3 is now the frame at 0.1333
    age = frame_age(TICKS, frame_t, tick)
    assert age[6] > 1.5 * period
    stats = camera_summary(frame_t, 30, TICKS, tick, 0.0)
    assert stats["gaps"] == 1 and stats["missing_frames"] == 1 and stats["frames"] == 7


def test_latency_correction_moves_frames_back():
    # a camera stamped on arrival, 30 ms after exposure: the frame stamped 0.045 was exposed at 0.015
    frame_t = np.array([0.045, 0.075, 0.105])
    np.testing.assert_array_equal(align_frames(TICKS[:5], frame_t), [-1, -1, -1, 0, 1])
    np.testing.assert_array_equal(align_frames(TICKS[:5], frame_t, latency_s=0.03), [-1, 0, 0, 1, 2])
    age = frame_age(TICKS[:5], frame_t, align_frames(TICKS[:5], frame_t, 0.03), 0.03)
    np.testing.assert_allclose(age[1:], [0.005, 0.025, 0.015, 0.005], atol=1e-12)


def test_no_frames_and_unsorted_and_equal_timestamps():
    np.testing.assert_array_equal(align_frames(TICKS[:3], []), [-1, -1, -1])
    # out of order: index refers to storage order, and the latest capture still wins
    np.testing.assert_array_equal(align_frames([0.05, 0.2], [0.1, 0.0, 0.04]), [2, 0])
    # equal timestamps: the frame stored last
    np.testing.assert_array_equal(align_frames([0.05], [0.01, 0.01]), [1])


def test_stalled_camera_is_reported_not_hidden():
    frame_t = np.array([0.0, 1 / 30])  # then nothing for the rest of the episode
    tick = align_frames(TICKS, frame_t)
    stats = camera_summary(frame_t, 30, TICKS, tick, 0.0)
    assert stats["stale_ticks"] == int((TICKS - frame_t[1] > 2 / 30).sum()) > 0
    assert stats["max_frame_age_ms"] > 100


def test_tick_summary_counts_late_ticks():
    t = np.concatenate([TICKS, [TICKS[-1] + 0.05]])
    stats = tick_summary(t, 50)
    assert stats["ticks"] == 11 and stats["late_ticks"] == 1 and stats["period_ms"]["max"] > 49
