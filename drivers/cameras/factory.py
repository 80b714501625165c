"""Cameras from the rig file: one `CameraSpec` in, an opened camera of the right driver out.

The simulated camera lives with the simulated rig, in `drivers/sim/camera.py`, as `SimCamera`, a
subclass of `drivers.cameras.base.Camera` constructed as `SimCamera(name, spec, clock=..., **options)`
(options carry what it renders from, e.g. the scene). Until that module exists, a sim camera is a
clear error rather than a silent fallback.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping

from drivers.cameras.base import Camera
from drivers.cameras.opencv_camera import OpenCVCamera
from drivers.cameras.realsense_camera import RealSenseCamera
from robot_stack.clock import Clock
from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import CameraSpec

SIM_CAMERA_MODULE = "drivers.sim.camera"

DRIVERS: dict[str, type[Camera]] = {"opencv": OpenCVCamera, "realsense": RealSenseCamera}


def camera_class(name: str, driver: str) -> type[Camera]:
    if driver in DRIVERS:
        return DRIVERS[driver]
    if driver == "sim":
        if importlib.util.find_spec(SIM_CAMERA_MODULE) is None:
            raise RobotStackError(
                f"camera '{name}' uses the sim driver, which is not available yet "
                f"({SIM_CAMERA_MODULE.replace('.', '/')}.py is missing)",
                hint="use driver: opencv or realsense for this camera until the simulated camera lands",
            )
        return importlib.import_module(SIM_CAMERA_MODULE).SimCamera
    raise RobotStackError(
        f"camera '{name}' has unknown driver '{driver}'", hint="use one of: opencv, realsense, sim"
    )


def make_camera(name: str, spec: CameraSpec, *, clock: Clock | None = None, **options) -> Camera:
    """A camera for `spec`, not yet opened. `options` go to the driver (e.g. playback_file, ring_size)."""
    return camera_class(name, spec.driver)(name, spec, clock=clock, **options)


def open_camera(name: str, spec: CameraSpec, *, clock: Clock | None = None, **options) -> Camera:
    """A camera for `spec`, opened and delivering (close it, or use it in a with-block)."""
    return make_camera(name, spec, clock=clock, **options).open()


def open_cameras(
    specs: Mapping[str, CameraSpec],
    *,
    clock: Clock | None = None,
    options: Mapping[str, dict] | None = None,
) -> dict[str, Camera]:
    """Open every camera of a rig; if one fails, close those already open and raise its error."""
    options = options or {}
    opened: dict[str, Camera] = {}
    try:
        for name, spec in specs.items():
            opened[name] = open_camera(name, spec, clock=clock, **options.get(name, {}))
    except BaseException:
        for camera in opened.values():
            camera.close()
        raise
    return opened
