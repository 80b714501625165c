"""The physics half of the simulated rig: MuJoCo scene, tasks, kinematics, scripted operator, cameras.

The ALOHA ViperX model files come from the `gym-aloha` package (assets only); everything around them
is ours. MuJoCo is imported only when one of these names is first used, so importing `drivers` on a
machine without the simulator stays cheap.
"""

from __future__ import annotations

import importlib
import os
import sys

# MuJoCo picks its OpenGL backend once, when it is imported; the robot PC and CI are headless, so EGL
# is the right default (a user with a display can still set MUJOCO_GL=glfw).
if sys.platform.startswith("linux"):
    os.environ.setdefault("MUJOCO_GL", "egl")

_EXPORTS = {
    "SimScene": "drivers.sim.scene",
    "SceneRenderer": "drivers.sim.render",
    "ScriptedOperator": "drivers.sim.scripted_operator",
    "ArmKinematics": "drivers.sim.kinematics",
    "TASKS": "drivers.sim.tasks",
    "get_task": "drivers.sim.tasks",
    "ARM_SIDES": "drivers.sim.arms",
    "JOINT_NAMES": "drivers.sim.arms",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'drivers.sim' has no attribute {name!r}")
