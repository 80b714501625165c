"""Camera frames rendered from the simulated scene in lockstep time, at each camera's frame rate.

The same schedule serves the scripted demonstrations and evaluation, so a policy sees frames as it
saw them in training: a camera renders when its next frame is due (every 1/fps of sim time, starting
at 0), stamped with the sim time at which it was rendered, and a control tick uses the latest frame
captured at or before it (the store's tick → frame alignment).
"""

from __future__ import annotations

import numpy as np

from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import CameraSpec


class LockstepCameras:
    def __init__(self, sim, cameras: dict[str, CameraSpec]):
        from drivers.sim.render import SceneRenderer

        not_sim = [name for name, spec in cameras.items() if spec.driver != "sim"]
        if not_sim:
            raise RobotStackError(
                f"camera(s) {', '.join(not_sim)} are not simulated cameras (driver is not 'sim')",
                hint="evaluate on the simulated rig (backend: sim, camera driver: sim)",
            )
        self.specs = dict(cameras)
        self.renderer = SceneRenderer(sim.scene)
        self._due = dict.fromkeys(self.specs, 0.0)
        self.latest: dict[str, np.ndarray] = {}

    def capture(self, t: float) -> list[str]:
        """Render every camera whose frame is due at sim time `t`; the names of those rendered."""
        rendered = []
        for name, spec in self.specs.items():
            if t + 1e-9 < self._due[name]:
                continue
            self.latest[name] = self.renderer.render(str(spec.device), spec.width, spec.height)
            period = 1.0 / spec.fps
            while self._due[name] <= t + 1e-9:
                self._due[name] += period
            rendered.append(name)
        return rendered

    def close(self) -> None:
        self.renderer.close()

    def __enter__(self) -> LockstepCameras:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
