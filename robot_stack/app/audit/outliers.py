"""Outlier episodes: takes whose length or trajectory stands apart from the other takes of the same task.

Within each task with at least `outlier_min_episodes` readable episodes:

- length: flagged when `length_ratio` times longer or shorter than the task's median length;
- trajectory: every episode's follower trajectory is resampled to `POINTS` steps over its own
  duration (so a slow and a fast take of the same motion compare equal), the point-wise median over
  the task's episodes is the reference, and an episode's distance is the RMS difference to it. An
  episode is flagged when its distance is more than `trajectory_factor` times the task's median
  distance and more than `trajectory_min_rad` — a failed take, another strategy, a wrong task label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robot_stack.app.audit.model import WARNING, Flag
from robot_stack.app.audit.thresholds import Thresholds

POINTS = 64


@dataclass(frozen=True)
class Shape:
    """What the outlier check keeps of one episode."""

    task: str
    duration_s: float
    trajectory: np.ndarray  # (POINTS, J) follower positions on the episode's own normalised time


def shape_of(task: str, rel_t: np.ndarray, observation: np.ndarray) -> Shape | None:
    if len(rel_t) < 2 or rel_t[-1] <= 0:
        return None
    grid = np.linspace(0.0, float(rel_t[-1]), POINTS)
    traj = np.stack([np.interp(grid, rel_t, observation[:, j]) for j in range(observation.shape[1])], axis=1)
    return Shape(task, float(rel_t[-1]), traj)


def find_outliers(shapes: dict[int, Shape], th: Thresholds) -> tuple[dict, dict[int, list[Flag]]]:
    """(per-task figures for the overview, episode index → flags)."""
    by_task: dict[str, list[int]] = {}
    for index, shape in shapes.items():
        by_task.setdefault(shape.task, []).append(index)
    overview: dict = {}
    flags: dict[int, list[Flag]] = {}
    for task, indices in sorted(by_task.items()):
        widths = {shapes[k].trajectory.shape[1] for k in indices}
        if len(indices) < th.outlier_min_episodes or len(widths) != 1:
            overview[task] = {"episodes": len(indices), "checked": False}
            continue
        lengths = np.array([shapes[k].duration_s for k in indices])
        median_len = float(np.median(lengths))
        stack = np.stack([shapes[k].trajectory for k in indices])  # (E, POINTS, J)
        reference = np.median(stack, axis=0)
        distance = np.sqrt(((stack - reference) ** 2).mean(axis=(1, 2)))
        typical = float(np.median(distance))
        limit = max(th.trajectory_factor * typical, th.trajectory_min_rad)
        overview[task] = {
            "episodes": len(indices),
            "checked": True,
            "median_length_s": median_len,
            "lengths_s": dict(zip(indices, lengths.tolist(), strict=True)),
            "distance_rad": dict(zip(indices, distance.tolist(), strict=True)),
            "typical_distance_rad": typical,
            "distance_limit_rad": limit,
        }
        for k, length, d in zip(indices, lengths, distance, strict=True):
            ratio = length / median_len if median_len > 0 else 1.0
            if ratio >= th.length_ratio or ratio <= 1.0 / th.length_ratio:
                flags.setdefault(k, []).append(
                    Flag(
                        "length_outlier",
                        WARNING,
                        f"{length:.1f} s long; the median {task} take is {median_len:.1f} s ({ratio:.1f}×)",
                    )
                )
            if d > limit:
                flags.setdefault(k, []).append(
                    Flag(
                        "trajectory_outlier",
                        WARNING,
                        f"trajectory {d:.2f} rad (RMS) from the median {task} take; typical is {typical:.2f} rad",
                    )
                )
    return overview, flags
