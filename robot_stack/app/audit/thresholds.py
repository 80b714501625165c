"""Where an audit draws its lines. Every value is in docs/audit.md; change them with care, since a
flag that fires on every good take teaches people to ignore flags."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    # timing: control ticks
    late_factor: float = 1.5  # a tick later than 1.5 nominal periods after the previous is an overrun
    overrun_fraction: float = 0.01  # flag when more than 1 % of ticks overran …
    stall_periods: float = 5.0  # … or any single tick came more than 5 periods late (a stall)
    min_rate_fraction: float = 0.95  # flag an achieved control rate under 95 % of nominal
    # timing: cameras
    min_missing_frames: int = 3  # flag a camera that lost at least this many frames in an episode
    min_duplicate_frames: int = 2  # flag at least this many frames identical to the one before
    skew_periods: float = 1.0  # flag when the median tick sees a frame older than one frame period
    late_start_s: float = 0.5  # flag ticks without any frame yet for longer than this
    # content
    saturation_tol_rad: float = 0.05  # command past the follower's reach by more than this (joints)
    saturation_tol_gripper: float = 0.05  # … (gripper fraction, range 0..1)
    saturation_min_s: float = 0.5  # flag when saturated ticks add up to at least this long
    idle_window_s: float = 0.5  # a tick is idle when no joint moved more than …
    idle_range_rad: float = 0.02  # … this much within the window around it
    idle_min_s: float = 2.5  # flag idle stretches at least this long
    tracking_p95_rad: float = (
        0.2  # flag when the 95th percentile of the worst arm joint's |action − obs| is above
    )
    # outliers (within one task; needs at least `outlier_min_episodes` episodes)
    outlier_min_episodes: int = 3
    length_ratio: float = 1.6  # flag episodes 1.6× longer, or 1.6× shorter, than the task's median
    trajectory_factor: float = (
        3.0  # flag trajectories farther from the median one than 3× the typical distance …
    )
    trajectory_min_rad: float = 0.2  # … and farther than this (RMS over joints and time)
    # camera latency
    latency_min_z: float = 5.0  # trust an estimate when correlation × √samples (a z-score) reaches this
    latency_tolerance_periods: float = 1.0  # flag a residual latency above one frame period
