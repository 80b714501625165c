"""Shared by the sim-rig tests: a rig on private ports, and the sim's ground-truth joint maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robot_stack.rig import load_rig
from robot_stack.rig.schema import RigSpec

REPO = Path(__file__).resolve().parent.parent


def rig_on_private_ports(tmp_path: Path) -> RigSpec:
    data = load_rig(REPO / "hardware.yaml").model_dump()
    for name, arm in data["arms"].items():
        arm["port"] = str(tmp_path / f"tty_{name}")
    return RigSpec.model_validate(data)


class TruthMap:
    """Raw ticks ↔ joint values from how the sim mounted each motor (what calibration must find)."""

    def __init__(self, rig: RigSpec, truth: dict):
        self.rig, self.truth = rig, truth

    def _mounts(self, arm: str):
        return [self.truth[arm][m.id] for m in self.rig.arms[arm].motors.values()]

    def values(self, arm: str, raw) -> np.ndarray:
        return np.array(
            [
                (r - m["zero_raw"]) / (m["direction"] * m["ticks_per_unit"])
                for r, m in zip(raw, self._mounts(arm), strict=True)
            ]
        )

    def raw(self, arm: str, values) -> np.ndarray:
        return np.round(
            [
                m["zero_raw"] + m["direction"] * m["ticks_per_unit"] * v
                for v, m in zip(values, self._mounts(arm), strict=True)
            ]
        ).astype(np.int64)
