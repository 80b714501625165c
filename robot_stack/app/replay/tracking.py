"""How closely the replayed followers follow the recorded ones: per-joint RMS and worst error.

Arm joints are in radians, grippers in fraction of their opening, so the two are summarised apart.
"""

from __future__ import annotations

import numpy as np


class TrackingErrors:
    def __init__(self, joint_names: list[str], gripper_columns: list[int]):
        self.joint_names = joint_names
        self.is_gripper = np.zeros(len(joint_names), bool)
        self.is_gripper[gripper_columns] = True
        self.count = 0
        self.sum_sq = np.zeros(len(joint_names))
        self.max = np.zeros(len(joint_names))

    def add(self, error: np.ndarray) -> None:
        error = np.abs(error)
        self.count += 1
        self.sum_sq += error**2
        np.maximum(self.max, error, out=self.max)

    def rms(self) -> np.ndarray:
        return np.sqrt(self.sum_sq / max(self.count, 1))

    def summary(self) -> dict:
        if self.count == 0:
            return {"ticks": 0}
        rms = self.rms()
        out = {"ticks": self.count}
        for key, mask in (("joints", ~self.is_gripper), ("grippers", self.is_gripper)):
            if not mask.any():
                continue
            columns = np.flatnonzero(mask)
            worst = columns[int(np.argmax(self.max[columns]))]
            out[key] = {
                "rms": float(np.sqrt(np.mean(rms[columns] ** 2))),
                "max": float(self.max[worst]),
                "worst": self.joint_names[worst],
            }
        out["unit"] = {"joints": "rad", "grippers": "fraction of the opening"}
        out["per_joint_rms"] = {
            name: round(float(v), 5) for name, v in zip(self.joint_names, rms, strict=True)
        }
        return out


def describe(summary: dict) -> str:
    """One line: 'joints RMS 0.6° (max 3.1° left_follower/elbow), grippers RMS 2 % (max 9 %)'."""
    if not summary.get("ticks"):
        return "no ticks replayed"
    parts = []
    if "joints" in summary:
        j = summary["joints"]
        parts.append(f"joints RMS {np.degrees(j['rms']):.1f}° (max {np.degrees(j['max']):.1f}° {j['worst']})")
    if "grippers" in summary:
        g = summary["grippers"]
        parts.append(f"grippers RMS {g['rms'] * 100:.0f} % (max {g['max'] * 100:.0f} % {g['worst']})")
    return ", ".join(parts)
