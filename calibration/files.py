"""Calibration files: one human-readable YAML file per arm, beside the rig file by default.

    hardware.yaml
    hardware.calibration/left_leader.yaml, left_follower.yaml, ...

Each file is written to a temporary name and renamed into place, so a crash leaves the old file or
the new one, never half of either.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from calibration.model import FORMAT, ArmCalibration
from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import RigSpec

HEADER = """\
# Calibration of arm '{arm}' ({role}) on rig '{rig}', made {created} by `robot-stack calibrate`.
# Per joint: value = direction * (Present Position - zero_ticks) / ticks_per_unit, in radians
# (gripper: 0 closed .. 1 open). motor/shadow hold the Homing Offset and Drive Mode written into
# each motor; on connect the arm is checked against them. Re-run `robot-stack calibrate --arm {arm}`
# rather than editing by hand.
"""


class CalibrationError(RobotStackError):
    """A calibration is missing, unreadable, or does not match the arm."""


def calibration_dir(rig: RigSpec, rig_path: str | Path) -> Path:
    rig_path = Path(rig_path)
    if rig.calibration_dir is not None:
        return (rig_path.parent / rig.calibration_dir).resolve()
    return rig_path.parent / f"{rig_path.stem}.calibration"


def calibration_path(rig: RigSpec, rig_path: str | Path, arm: str) -> Path:
    return calibration_dir(rig, rig_path) / f"{arm}.yaml"


def save_calibration(calibration: ArmCalibration, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = calibration.model_dump(mode="json")
    for joint in data["joints"]:
        joint["range"] = [round(v, 5) for v in joint["range"]]
    text = HEADER.format(**data) + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=110)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_calibration(path: Path) -> ArmCalibration:
    if not path.exists():
        raise CalibrationError(
            f"no calibration at {path}", hint=f"run `robot-stack calibrate --arm {path.stem}`"
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CalibrationError(
            f"{path} is not valid YAML: {exc}", hint="re-run `robot-stack calibrate`"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise CalibrationError(
            f"{path} is not a calibration file this version reads (format {found!r}, expected {FORMAT!r})",
            hint=f"re-run `robot-stack calibrate --arm {path.stem}`",
        )
    try:
        return ArmCalibration.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CalibrationError(
            f"{path}: {where}: {first['msg']}", hint=f"re-run `robot-stack calibrate --arm {path.stem}`"
        ) from None


def load_rig_calibration(
    rig: RigSpec, rig_path: str | Path, arms: list[str] | None = None
) -> dict[str, ArmCalibration]:
    """Every named arm's calibration (default: all arms); one error naming all that are missing."""
    names = list(rig.arms) if arms is None else arms
    missing = [a for a in names if not calibration_path(rig, rig_path, a).exists()]
    if missing:
        raise CalibrationError(
            f"not calibrated: {', '.join(missing)} (looked in {calibration_dir(rig, rig_path)})",
            hint="run `robot-stack calibrate` (all arms) or `robot-stack calibrate --arm NAME`; "
            "on the simulated rig `robot-stack calibrate --auto` does the moves itself",
        )
    calibrations = {a: load_calibration(calibration_path(rig, rig_path, a)) for a in names}
    for name, cal in calibrations.items():
        if cal.arm != name or cal.rig != rig.name:
            raise CalibrationError(
                f"{calibration_path(rig, rig_path, name)} belongs to arm '{cal.arm}' of rig '{cal.rig}', "
                f"not '{name}' of '{rig.name}'",
                hint=f"re-run `robot-stack calibrate --arm {name}`",
            )
    return calibrations
