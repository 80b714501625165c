"""Where the ALOHA ViperX model files live, and loading them into a MuJoCo model.

The files ship inside the `gym-aloha` package, which is installed without its dependencies: its
`__init__` imports gymnasium, so the package is located with `find_spec` and never imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import mujoco

from robot_stack.errors import RobotStackError


def assets_dir() -> Path:
    spec = importlib.util.find_spec("gym_aloha")
    if spec is None or spec.origin is None:
        raise RobotStackError(
            "the simulated rig needs the ALOHA ViperX model files from the 'gym-aloha' package, "
            "which is not installed",
            hint="run `make setup`, or `pip install --no-deps gym-aloha`",
        )
    path = Path(spec.origin).parent / "assets"
    if not path.is_dir():
        raise RobotStackError(
            f"the gym-aloha package at {path.parent} has no assets/ folder with the MuJoCo model files",
            hint="reinstall it: `pip install --no-deps --force-reinstall gym-aloha`",
        )
    return path


def load_model(file_name: str) -> mujoco.MjModel:
    path = assets_dir() / file_name
    if not path.is_file():
        raise RobotStackError(
            f"MuJoCo model file {path} is missing",
            hint="reinstall gym-aloha: `pip install --no-deps --force-reinstall gym-aloha`",
        )
    try:
        model = mujoco.MjModel.from_xml_path(str(path))
    except ValueError as exc:  # mujoco reports XML and mesh problems as ValueError
        raise RobotStackError(
            f"MuJoCo could not load {path}: {exc}",
            hint="reinstall gym-aloha, and check that mujoco>=3.1 is installed",
        ) from exc
    make_rendering_cheap(model)
    return model


def make_rendering_cheap(model: mujoco.MjModel) -> None:
    """Shadow maps and 4x multisampling cost ~10x per frame in software EGL and teach a policy nothing."""
    model.vis.quality.shadowsize = 0
    model.vis.quality.offsamples = 0
