"""Shared by the sim-rig tests: the default rig, on private ports."""

from __future__ import annotations

from pathlib import Path

from robot_stack.rig import load_rig
from robot_stack.rig.schema import RigSpec

REPO = Path(__file__).resolve().parent.parent


def rig_on_private_ports(tmp_path: Path) -> RigSpec:
    data = load_rig(REPO / "hardware.yaml").model_dump()
    for name, arm in data["arms"].items():
        arm["port"] = str(tmp_path / f"tty_{name}")
    return RigSpec.model_validate(data)
