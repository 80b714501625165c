"""SimScene: the bimanual MuJoCo world the simulated follower servos and cameras sit on.

Physics time is the scene's own: `step_to(t)` advances it in model timesteps, so a LockstepClock can
drive it (`LockstepClock(step_to=scene.step_to)`) and a real-time runner can call it from a thread.
Every accessor takes the scene lock, so servo emulators, cameras and a stepping thread can share one
scene; stepping releases the lock every few substeps so readers are never starved.
"""

from __future__ import annotations

import threading

import mujoco
import numpy as np

from drivers.sim.arms import ARM_SIDES, arm_indices, check_side
from drivers.sim.assets import load_model
from drivers.sim.task_base import HOME, Task, TaskStatus, check_seed, place_objects
from drivers.sim.tasks import get_task

# The success check looks at contacts this often (in physics steps): 20 ms, far shorter than any
# grasp or hand-over, and cheap next to the physics itself.
MONITOR_EVERY = 10
LOCK_CHUNK = 10  # physics steps per lock hold while stepping


class SimScene:
    def __init__(self, task: str | Task = "transfer_cube", seed: int = 0):
        self.task = get_task(task)
        check_seed(seed)
        self.model = load_model(self.task.model_file)
        self.data = mujoco.MjData(self.model)
        self.arms = arm_indices(self.model)
        self.lock = threading.RLock()  # public: a renderer copies the state under it
        self.timestep = float(self.model.opt.timestep)
        self._steps = 0
        self._open = True
        self.reset(seed)

    # lifecycle, the same as every device
    def open(self) -> SimScene:
        self._open = True
        return self

    def close(self) -> None:
        self._open = False

    @property
    def is_ready(self) -> bool:
        return self._open

    def __enter__(self) -> SimScene:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # episode
    def reset(self, seed: int | None = None) -> None:
        """Arms at home, objects where the seed puts them, time back to zero."""
        self.seed = self.seed if seed is None else check_seed(seed)
        self.layout = self.task.layout(self.seed)
        with self.lock:
            mujoco.mj_resetData(self.model, self.data)
            for side in ARM_SIDES:
                self._write_arm_state(side, HOME)
                self._write_targets(side, HOME)
            place_objects(self.model, self.data, self.layout)
            mujoco.mj_forward(self.model, self.data)
            self._steps = 0
            self.monitor = self.task.monitor(self.model)
            self.monitor.update(self.data)

    @property
    def time(self) -> float:
        return self._steps * self.timestep

    def step_to(self, t: float) -> None:
        """Advance physics to sim time t (whole timesteps; a t already passed is a no-op)."""
        target = int(np.floor(t / self.timestep + 1e-6))
        while self._steps < target:
            with self.lock:
                for _ in range(min(LOCK_CHUNK, target - self._steps)):
                    mujoco.mj_step(self.model, self.data)
                    self._steps += 1
                    if self._steps % MONITOR_EVERY == 0:
                        self.monitor.update(self.data)

    def task_status(self) -> TaskStatus:
        with self.lock:
            return self.monitor.status()

    def success(self) -> bool:
        return self.task_status().success

    # followers
    def follower_joint_positions(self, side: str) -> np.ndarray:
        """(7,) six joint angles in radians, then the gripper fraction 0 closed … 1 open."""
        arm = self.arms[check_side(side)]
        with self.lock:
            q = self.data.qpos[arm.qpos].copy()
            finger = float(self.data.qpos[arm.finger_qpos[0]])
        return np.append(q, arm.gripper_fraction(finger))

    def follower_joint_velocities(self, side: str) -> np.ndarray:
        """(7,) rad/s for the joints, fraction/s for the gripper."""
        arm = self.arms[check_side(side)]
        with self.lock:
            v = self.data.qvel[arm.dof].copy()
            finger = float(self.data.qvel[arm.finger_dof[0]])
        return np.append(v, finger / (arm.finger_open - arm.finger_closed))

    def follower_joint_efforts(self, side: str) -> np.ndarray:
        """(7,) actuator force: N·m per joint, N squeezing the gripper (what a servo's current shows)."""
        arm = self.arms[check_side(side)]
        with self.lock:
            tau = self.data.actuator_force[arm.actuators].copy()
            squeeze = float(self.data.actuator_force[arm.finger_actuators[0]])
        return np.append(tau, squeeze)

    def set_follower_targets(self, side: str, q7) -> None:
        """Position targets: six joint angles (rad) and the gripper fraction (0 closed … 1 open)."""
        q7 = np.asarray(q7, dtype=float)
        if q7.shape != (7,) or not np.all(np.isfinite(q7)):
            raise ValueError(f"follower targets for the {side} arm must be 7 finite numbers, got {q7!r}")
        with self.lock:
            self._write_targets(check_side(side), q7)

    def follower_targets(self, side: str) -> np.ndarray:
        arm = self.arms[check_side(side)]
        with self.lock:
            q = self.data.ctrl[arm.actuators].copy()
            finger = float(self.data.ctrl[arm.finger_actuators[0]])
        return np.append(q, arm.gripper_fraction(finger))

    def object_position(self, body: str) -> np.ndarray:
        with self.lock:
            return self.data.xpos[self.model.body(body).id].copy()

    # internals (caller holds the lock)
    def _write_targets(self, side: str, q7: np.ndarray) -> None:
        arm = self.arms[side]
        lo, hi = self.model.actuator_ctrlrange[arm.actuators].T
        self.data.ctrl[arm.actuators] = np.clip(q7[:6], lo, hi)
        finger = arm.finger_position(q7[6])
        self.data.ctrl[arm.finger_actuators] = (finger, -finger)  # the right finger mirrors the left

    def _write_arm_state(self, side: str, q7: np.ndarray) -> None:
        arm = self.arms[side]
        self.data.qpos[arm.qpos] = q7[:6]
        finger = arm.finger_position(q7[6])
        self.data.qpos[arm.finger_qpos] = (finger, -finger)
