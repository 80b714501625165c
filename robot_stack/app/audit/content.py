"""Content: what the arms did — commands past the follower's reach, stretches where nothing moved, and
how closely the follower tracked the leader.

- saturation: the follower sits at the edge of where it went in this episode while the command goes
  past that edge (a joint stop, a gripper mapped onto more travel than the follower has). Grippers
  use their stored range 0…1 as the edge; other joints the follower's own extremes in the episode.
- idle: a tick is idle when no joint (follower) moved more than `idle_range_rad` within
  `idle_window_s` around it; stretches of at least `idle_min_s` are flagged (waiting, a stalled take).
- tracking: |action − observation| on the arm joints. Grippers are left out of the flag: a gripper
  closed on an object is told to close further than it can, by design.
"""

from __future__ import annotations

import numpy as np

from robot_stack.app.audit.load import EpisodeData
from robot_stack.app.audit.model import WARNING, Flag
from robot_stack.app.audit.runs import runs, spans
from robot_stack.app.audit.thresholds import Thresholds
from robot_stack.rig import RigSpec


def joint_labels(rig: RigSpec | None, names: list[str], width: int) -> tuple[list[str], np.ndarray]:
    """(a label per joint, a mask of the gripper columns). Joint names stored with the episode win;
    otherwise the rig's followers in pair order, each arm's motors in order, if the count fits."""
    if len(names) == width:
        return names, np.array(["gripper" in n.lower() for n in names], bool)
    if rig is not None:
        followers = [p.follower for p in rig.pairs] or list(rig.arms_with_role("follower"))
        labels, grip = [], []
        for arm_name in followers:
            arm = rig.arms[arm_name]
            for joint in arm.motors:
                labels.append(f"{arm_name}.{joint}")
                grip.append(joint == arm.gripper)
        if len(labels) == width:
            return labels, np.array(grip, bool)
    return [f"j{i}" for i in range(width)], np.zeros(width, bool)


def check_content(ep: EpisodeData, gripper: np.ndarray, th: Thresholds) -> tuple[dict, list[Flag]]:
    if not ep.joints_ok or ep.observation.shape != ep.action.shape:
        return {}, []
    obs = ep.observation.astype(np.float64)
    act = ep.action.astype(np.float64)
    if not (np.isfinite(obs).all() and np.isfinite(act).all() and np.isfinite(ep.t).all()):
        return {}, []
    rel = ep.rel_t
    dt = float(np.median(np.diff(rel))) if len(rel) > 1 else 0.02
    metrics, flags = {}, []
    flags += _saturation(obs, act, gripper, rel, dt, th, metrics)
    flags += _idle(obs, rel, dt, th, metrics)
    flags += _tracking(obs, act, gripper, th, metrics)
    return metrics, flags


def _saturation(obs, act, gripper, rel, dt, th, metrics) -> list[Flag]:
    tol = np.where(gripper, th.saturation_tol_gripper, th.saturation_tol_rad)
    lo = np.where(gripper, np.minimum(0.0, obs.min(axis=0)), obs.min(axis=0))
    hi = np.where(gripper, np.maximum(1.0, obs.max(axis=0)), obs.max(axis=0))
    at_lo = (obs <= lo + tol) & (act < lo - tol)
    at_hi = (obs >= hi - tol) & (act > hi + tol)
    sat = at_lo | at_hi  # (N, J)
    seconds = sat.sum(axis=0) * dt
    metrics["saturated_s"] = {
        "joints": float(seconds[~gripper].max(initial=0.0)),
        "gripper": float(seconds[gripper].max(initial=0.0)),
    }
    flags = []
    for kind, cols in (("joint_saturation", ~gripper), ("gripper_saturation", gripper)):
        hit = cols & (seconds >= th.saturation_min_s)
        if hit.any():
            worst = int(np.argmax(np.where(hit, seconds, -1)))
            mask = sat[:, hit].any(axis=1)
            flags.append(
                Flag(
                    kind,
                    WARNING,
                    f"{int(hit.sum())} {'gripper' if kind.startswith('gripper') else 'joint'}(s) commanded past "
                    f"the follower's reach; worst joint {worst} for {seconds[worst]:.1f} s",
                    spans=spans(rel, mask),
                )
            )
    return flags


def _idle(obs, rel, dt, th, metrics) -> list[Flag]:
    n = len(obs)
    half = max(int(round(th.idle_window_s / dt / 2)), 1)
    if n < 2 * half + 1:
        metrics["idle_s"] = 0.0
        return []
    # range (max − min) of every joint within a window centred on each tick
    span = _rolling_range(obs, 2 * half + 1)  # (n − 2·half, J)
    still = np.zeros(n, bool)
    still[half : n - half] = (span < th.idle_range_rad).all(axis=1)
    # a still window means all of its ticks are still
    idle = np.convolve(still.astype(np.int32), np.ones(2 * half + 1, np.int32), "same") > 0
    stretches = [(a, b) for a, b in runs(idle) if rel[b - 1] - rel[a] >= th.idle_min_s]
    total = float(sum(rel[b - 1] - rel[a] for a, b in runs(idle)))
    metrics["idle_s"] = total
    metrics["longest_idle_s"] = float(max((rel[b - 1] - rel[a] for a, b in runs(idle)), default=0.0))
    if not stretches:
        return []
    shown = ", ".join(f"{rel[a]:.1f}–{rel[b - 1]:.1f} s" for a, b in stretches[:4])
    return [
        Flag(
            "idle",
            WARNING,
            f"no motion for {sum(rel[b - 1] - rel[a] for a, b in stretches):.1f} s in {len(stretches)} stretch(es): {shown}",
            spans=tuple((float(rel[a]), float(rel[b - 1])) for a, b in stretches),
        )
    ]


def _tracking(obs, act, gripper, th, metrics) -> list[Flag]:
    err = np.abs(act - obs)
    arm = err[:, ~gripper]
    metrics["tracking"] = {
        "gripper_mean": float(err[:, gripper].mean()) if gripper.any() else None,
    }
    if arm.shape[1] == 0:
        return []
    worst = arm.max(axis=1)
    p95 = float(np.percentile(worst, 95))
    metrics["tracking"].update(
        rms_rad=float(np.sqrt((arm**2).mean())),
        p95_rad=p95,
        max_rad=float(worst.max()),
        worst_joint=int(np.flatnonzero(~gripper)[int(np.argmax(arm.mean(axis=0)))]),
    )
    if p95 <= th.tracking_p95_rad:
        return []
    return [
        Flag(
            "tracking_error",
            WARNING,
            f"the follower strays from the command: 95 % of ticks within {p95:.2f} rad, up to "
            f"{worst.max():.2f} rad (joint {metrics['tracking']['worst_joint']} the worst on average)",
        )
    ]


def _rolling_range(x: np.ndarray, w: int) -> np.ndarray:
    """max − min over each window of `w` rows (sliding), per column."""
    windows = np.lib.stride_tricks.sliding_window_view(x, w, axis=0)  # (n − w + 1, J, w)
    return windows.max(axis=-1) - windows.min(axis=-1)
