"""ScriptedOperator: a person at the leader arms, as a function of time.

From a task and a seed it knows where the objects lie (the task's seeded layout, the same one the
scene uses), picks a strategy, and scripts both leader arms: task waypoints → IK → minimum-jerk joint
trajectories, with the episode's own tempo, reaction lags, hesitations and a small tremor.
`targets(t)` is then the leader pose at time t, in the shared frame (6 joints in rad, gripper 0..1).
"""

from __future__ import annotations

from typing import get_args

import numpy as np

from drivers.sim import plan_insertion, plan_transfer_cube
from drivers.sim.arms import ARM_SIDES, check_side
from drivers.sim.assets import load_model
from drivers.sim.choreography import Choreography, HumanStyle
from drivers.sim.kinematics import ArmKinematics
from drivers.sim.task_base import HOME, Task, check_seed
from drivers.sim.tasks import get_task
from drivers.sim.trajectory import ArmScript, IkFailure
from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import OperatorStyle

PLANNERS = {
    "transfer_cube": plan_transfer_cube,
    "transfer_cube_rotated": plan_transfer_cube,
    "insertion": plan_insertion,
}
TREMOR_HZ = (7.0, 12.0)  # physiological tremor band
STYLES = get_args(OperatorStyle)


class ScriptedOperator:
    def __init__(self, task: str | Task = "transfer_cube", seed: int = 0, model=None, style: str = "human"):
        self.task = get_task(task)
        self.seed = check_seed(seed)
        if self.task.name not in PLANNERS:
            raise RobotStackError(f"the scripted operator has no plan for task '{self.task.name}'")
        if style not in STYLES:
            raise RobotStackError(f"unknown operator style {style!r}", hint=f"one of: {', '.join(STYLES)}")
        planner = PLANNERS[self.task.name]
        model = model if model is not None else load_model(self.task.model_file)
        kinematics = {side: ArmKinematics(model, side) for side in ARM_SIDES}
        if style == "steady":
            # every choice the planner draws (strategy order, grasp height, hand-over point, pauses)
            # comes out the same in every episode: only the layout, drawn from the seed, differs
            rng = np.random.default_rng(0)
            self.style = HumanStyle.steady()
        else:
            rng = self.task.rng(self.seed, 1)
            self.style = HumanStyle.draw(rng)
        self.layout = self.task.layout(self.seed)

        failures = []
        for strategy in planner.candidate_strategies(self.layout, rng):
            scripts = {side: ArmScript(kinematics[side], HOME[:6], HOME[6]) for side in ARM_SIDES}
            choreo = Choreography(scripts, rng, self.style)
            try:
                self.strategy = planner.build(choreo, model, self.layout, strategy, rng)
            except IkFailure as exc:
                failures.append(str(exc))
                continue
            self.duration = choreo.finish(rng.uniform(0.4, 0.7))
            self.hesitations = choreo.hesitations
            self.steady_spans = [(round(a, 3), round(b, 3)) for a, b in choreo.steady_spans]
            break
        else:
            raise RobotStackError(
                f"the scripted operator found no reachable way to do {self.task.name} with seed {self.seed}: "
                + "; ".join(failures[:3]),
                hint="try another seed",
            )
        self._t, self._q, self._grip = {}, {}, {}
        for side, script in scripts.items():
            self._t[side], q, self._grip[side] = script.arrays()
            # a person lines the follower up by eye, so the leader ends up where the follower, sagging
            # under gravity on its position servos, lands on the target
            sag = kinematics[side].sag_compensation
            self._q[side] = q + np.array([sag(row) for row in q])
        # each joint trembles with its own mix of three frequencies, fixed by the seed
        self._tremor_f = rng.uniform(*TREMOR_HZ, size=(len(ARM_SIDES), 6, 3))
        self._tremor_phase = rng.uniform(0, 2 * np.pi, size=(len(ARM_SIDES), 6, 3))

    def target(self, side: str, t: float) -> np.ndarray:
        """(7,) leader joint targets of one arm at time t (held at the ends outside [0, duration])."""
        check_side(side)
        times = self._t[side]
        q = np.array([np.interp(t, times, self._q[side][:, j]) for j in range(6)])
        i = ARM_SIDES.index(side)
        wave = np.sin(2 * np.pi * self._tremor_f[i] * t + self._tremor_phase[i]).sum(axis=1) / 3.0
        q += self.style.tremor_rad * wave
        return np.append(q, np.interp(t, times, self._grip[side]))

    def targets(self, t: float) -> dict[str, np.ndarray]:
        return {side: self.target(side, t) for side in ARM_SIDES}
