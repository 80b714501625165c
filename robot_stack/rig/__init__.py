"""The rig description contract: schema, cross-field checks, loader."""

from robot_stack.rig.loader import RigFileError, load_rig, parse_rig
from robot_stack.rig.schema import ArmSpec, CameraSpec, MotorSpec, PairSpec, RigSpec

__all__ = [
    "ArmSpec",
    "CameraSpec",
    "MotorSpec",
    "PairSpec",
    "RigFileError",
    "RigSpec",
    "load_rig",
    "parse_rig",
]
