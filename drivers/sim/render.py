"""Camera images from the scene's cameras, rendered offscreen.

One MuJoCo renderer per image size, created on first use and reused: creating one costs a GL context
and framebuffers, rendering with it costs only the frame. Shadows, reflections and multisampling are
off (about 10x faster in software EGL; a policy learns nothing from them).

An OpenGL context is current in one thread at a time, so use one SceneRenderer per thread.
"""

from __future__ import annotations

import os

import mujoco
import numpy as np

from drivers.sim.scene import SimScene
from robot_stack.errors import RobotStackError

MAX_SIDE = 4096


class SceneRenderer:
    def __init__(self, scene: SimScene):
        self.scene = scene
        model = scene.model
        self.camera_names = tuple(model.camera(i).name for i in range(model.ncam))
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}

    def render(self, camera: str, width: int, height: int) -> np.ndarray:
        """(height, width, 3) uint8 RGB image of the scene as it is now, seen from `camera`."""
        if camera not in self.camera_names:
            raise RobotStackError(
                f"the simulated scene has no camera '{camera}'",
                hint=f"set the camera's device to one of: {', '.join(self.camera_names)}",
            )
        renderer = self._renderer(int(width), int(height))
        with self.scene.lock:  # copy the state; drawing then runs without holding up physics
            renderer.update_scene(self.scene.data, camera=self.scene.model.camera(camera).id)
        return renderer.render()

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()

    def __enter__(self) -> SceneRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _renderer(self, width: int, height: int) -> mujoco.Renderer:
        key = (width, height)
        if key in self._renderers:
            return self._renderers[key]
        if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            raise RobotStackError(
                f"simulated camera size {width}x{height} is out of range",
                hint=f"use a width and height between 1 and {MAX_SIDE}",
            )
        model = self.scene.model
        # the offscreen framebuffer is sized from the model when a context is made
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, height)
        try:
            renderer = mujoco.Renderer(model, height=height, width=width)
        except (ImportError, OSError, RuntimeError, AttributeError, mujoco.FatalError) as exc:
            raise _gl_error(exc) from exc
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        self._renderers[key] = renderer
        return renderer


def _gl_error(exc: Exception) -> RobotStackError:
    backend = os.environ.get("MUJOCO_GL", "") or "glfw (default)"
    return RobotStackError(
        f"cannot open an offscreen OpenGL context for the simulated cameras (MUJOCO_GL={backend}): {exc}",
        hint="headless Linux renders through EGL: install its libraries with "
        "`sudo apt-get install libegl1 libgl1` and set MUJOCO_GL=egl "
        "(or MUJOCO_GL=osmesa after `sudo apt-get install libosmesa6`)",
    )
