"""SimRig: the whole simulated rig — physics, emulated servo chains on the rig file's ports, the
scripted operator at the leaders — driven in real time or in lockstep.

Everything above the serial ports (drivers, calibration, teleop, record, deploy) talks to it exactly
as to hardware. Real time: a thread steps physics against the monotonic clock. Lockstep: the caller
owns time through `clock` (a LockstepClock whose advances step the physics first).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from drivers.dynamixel.emulator import DynamixelChainEmulator, EmulatedMotorConfig
from drivers.sim.assembly import ArmAssembly, MountingMap
from drivers.sim.kinematics import SERVO_REACH_RAD
from drivers.sim.scene import SimScene
from drivers.sim.scripted_operator import ScriptedOperator
from drivers.sim.servo_binding import FollowerBinding, LeaderBinding
from drivers.sim.task_base import HOME, check_seed
from robot_stack.clock import Clock, LockstepClock, MonotonicClock
from robot_stack.errors import RobotStackError
from robot_stack.rate_loop import RateLoop
from robot_stack.realtime import short_gil_switch_interval
from robot_stack.rig.schema import RigSpec

# Real motors answer without waiting for a CPU; the emulated ones get real-time threads (where the OS
# allows) above the control loop's, so other work on the machine does not make them late.
EMULATOR_PRIORITY = 60
# Lockstep time stands still while a reply is awaited, so a late emulator reply (a loaded machine)
# costs nothing but wall time: drivers talking to a lockstep rig give replies this much more slack.
LOCKSTEP_REPLY_MARGIN_MS = 250.0
PHYSICS_RATE_HZ = 250  # how often the real-time thread catches physics up with the wall clock
LAG_BIN_MS, LAG_BINS = 0.25, 800  # the physics-lag histogram: 0.25 ms bins up to 200 ms


class SimRig:
    def __init__(
        self,
        rig: RigSpec,
        task: str | None = None,
        seed: int | None = None,
        realtime: bool = True,
        wire_timing: bool = False,
        assembly_seed: int = 0,
        operator: bool = True,
    ):
        if rig.backend != "sim":
            raise RobotStackError(
                f"rig '{rig.name}' has backend '{rig.backend}'; the simulator serves only sim rigs",
                hint="use the root hardware.yaml, or set backend: sim",
            )
        sim = rig.sim
        self.rig = rig
        self.task_name = task or (sim.task if sim else "transfer_cube")
        self.seed = check_seed(seed if seed is not None else (sim.seed if sim else 0))
        self.realtime = realtime
        self.wire_timing = wire_timing
        self.operator_enabled = operator
        self.assemblies = {name: ArmAssembly(name, arm, assembly_seed) for name, arm in rig.arms.items()}
        self.scene: SimScene | None = None
        self.operator: ScriptedOperator | None = None
        self.chains: dict[str, DynamixelChainEmulator] = {}
        self.leaders: dict[str, LeaderBinding] = {}
        self.followers: dict[str, FollowerBinding] = {}
        self.clock: Clock = MonotonicClock() if realtime else LockstepClock(step_to=self._step_physics)
        self._t0 = 0.0  # clock time at which the scene's time was zero
        # held while physics steps and while a reset restarts the scene's time: a step computed from
        # the time before a reset must not run the new scene ahead (it would then stand still)
        self._time_lock = threading.RLock()
        self._stop = threading.Event()
        self._physics_thread: threading.Thread | None = None
        # real time: how far physics was behind the wall clock each time its thread woke, this episode,
        # as a histogram (a status request reads it while physics runs: no sort of every sample);
        # the last bin holds LAG_BIN_MS·LAG_BINS and over
        self._lag_counts = np.zeros(LAG_BINS + 1, dtype=np.int64)
        self._lag_max_s = 0.0

    # lifecycle
    def open(self) -> SimRig:
        self.scene = SimScene(self.task_name, self.seed)
        try:
            for name, arm in self.rig.arms.items():
                self._start_chain(name, arm)
        except BaseException:
            self.close()
            raise
        self.reset(self.seed)
        if self.realtime:
            self._stop.clear()
            self._physics_thread = threading.Thread(
                target=self._physics_loop, name="sim-physics", daemon=True
            )
            self._physics_thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._physics_thread is not None:
            self._physics_thread.join(timeout=2)
            self._physics_thread = None
        for name, chain in self.chains.items():
            self._save_eeprom(name, chain)
            chain.stop()
        self.chains.clear()
        if self.scene is not None:
            self.scene.close()

    @property
    def is_ready(self) -> bool:
        return bool(self.chains) and self.scene is not None and self.scene.is_ready

    def __enter__(self) -> SimRig:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # episodes
    def reset(self, seed: int | None = None, task: str | None = None) -> None:
        """New object poses (and optionally a new task); arms home; the operator restarts."""
        if task is not None and task != self.task_name:
            self.scene.close()
            self.scene = SimScene(task, self.seed if seed is None else seed)
            self.task_name = task
            for binding in self.followers.values():
                binding.scene = self.scene
        self.seed = check_seed(self.seed if seed is None else seed)
        with self._time_lock:
            self.scene.reset(self.seed)
            self._t0 = self.clock.now()
            self._lag_counts[:] = 0
            self._lag_max_s = 0.0
        for binding in self.leaders.values():
            binding.place(HOME)
        self.operator = self._new_operator() if self.operator_enabled else None
        self._attach_operator()

    def set_operator(self, enabled: bool) -> None:
        self.operator_enabled = enabled
        if enabled and self.operator is None:
            self.operator = self._new_operator()
        self._attach_operator()

    def sim_time(self) -> float:
        return self.clock.now() - self._t0

    def success(self) -> bool:
        return self.scene.success()

    def physics_lag_ms(self) -> dict | None:
        """Real time: p50 / p99 / max of how far physics lagged the wall clock when its thread woke,
        since the last reset (a lag is world time that passed with the arms' targets unapplied and
        then ran in one burst). None in lockstep, where physics never lags."""
        with self._time_lock:
            counts, worst = self._lag_counts.copy(), self._lag_max_s
        total = int(counts.sum())
        if total == 0:
            return None
        upper = np.cumsum(counts)

        def quantile_ms(q: float) -> float:  # the upper edge of the bin holding the q-quantile
            return min(float(np.searchsorted(upper, q * total) + 1) * LAG_BIN_MS, worst * 1e3)

        return {
            "p50": round(quantile_ms(0.5), 2),
            "p99": round(quantile_ms(0.99), 2),
            "max": round(worst * 1e3, 2),
        }

    def status(self) -> dict:
        task = self.scene.task_status()
        return {
            "task": self.task_name,
            "seed": self.seed,
            "sim_time": round(self.scene.time, 4),
            "success": bool(task.success),
            "stage": task.stage,
            "operator": self.operator_enabled,
            "operator_duration": round(self.operator.duration, 3) if self.operator else None,
            "operator_steady_spans": self.operator.steady_spans if self.operator else None,
            "operator_time": round(self.sim_time(), 4),  # the clock the operator's script runs on
            "realtime": self.realtime,
            "physics_lag_ms": self.physics_lag_ms(),
            "ports": {name: chain.port_path for name, chain in self.chains.items()},
        }

    def mounting(self) -> MountingMap:
        """Raw ticks ↔ joint values for every arm, from the simulator's own mounting."""
        return MountingMap(self.rig, self.assemblies)

    # calibration support: a person's hands on an arm
    def pose_arm(self, arm: str, q) -> None:
        """Hold `arm` by hand at joint vector q (radians, gripper 0..1); None lets go.

        A leader's motors then read q; a follower is lifted onto a calibration stand: its motors read
        q while the physics keeps the arm where it was, until it is let go.
        """
        if arm not in self.rig.arms:
            raise RobotStackError(
                f"no arm {arm!r} in rig {self.rig.name!r}", hint=f"arms: {', '.join(self.rig.arms)}"
            )
        pose = None if q is None else np.asarray(q, dtype=np.float64)
        if pose is not None and pose.shape != (self.assemblies[arm].joint_count,):
            raise RobotStackError(
                f"pose for {arm} has {pose.size} values, the arm has {self.assemblies[arm].joint_count} joints"
            )
        if arm in self.followers:
            self.followers[arm].hand_pose = pose
        elif pose is None:
            self._attach_operator()
        else:
            self.leaders[arm].pose_at = lambda _t, q=pose: q
        if not self.realtime:
            self.chains[arm].wait_input_handled()

    def joint_ranges(self, arm: str) -> tuple[np.ndarray, np.ndarray]:
        """How far each joint of `arm` turns (the model's limits within the servos' reach; gripper 0..1)."""
        side = self.rig.arms[arm].side
        index = self.scene.arms[side]
        lo = np.append(np.maximum(index.lower, -SERVO_REACH_RAD), 0.0)
        hi = np.append(np.minimum(index.upper, SERVO_REACH_RAD), 1.0)
        return lo, hi

    def truth(self) -> dict[str, dict]:
        """How every simulated motor is mounted (what calibration should find)."""
        return {name: assembly.truth() for name, assembly in self.assemblies.items()}

    # internals
    def _start_chain(self, name: str, arm) -> None:
        assembly = self.assemblies[name]
        side = arm.side
        saved = self._load_eeprom(name)
        configs = []
        for motor_id, mount in assembly.mounts.items():
            model = next(
                m.model
                for m in arm.motors.values()
                if m.id == motor_id or (m.shadow is not None and m.shadow.id == motor_id)
            )
            configs.append(
                EmulatedMotorConfig(
                    id=motor_id,
                    model=model,
                    baud_rate=arm.baud_rate,
                    raw_position=mount.raw(HOME[mount.joint_index]),
                    registers=saved.get(str(motor_id), {}),
                )
            )
        chain = DynamixelChainEmulator(
            configs,
            baud_rate=arm.baud_rate,
            wire_timing=self.wire_timing,
            link_path=arm.port,
            seed=self.seed,
            motion=None if arm.role == "follower" else "ideal",
            name=name,
            priority=EMULATOR_PRIORITY if self.realtime else 0,
        )
        try:
            chain.start()
        except FileExistsError as exc:
            raise RobotStackError(
                f"cannot serve arm '{name}' on {arm.port}: {exc}",
                hint="another `robot-stack sim` is running on this rig file; stop it, or give this rig other ports",
            ) from None
        self.chains[name] = chain
        gripper_index = arm.joint_names.index(arm.gripper) if arm.gripper else None
        if arm.role == "follower":
            self.followers[name] = FollowerBinding(self.scene, side, chain, assembly, gripper_index)
        else:
            self.leaders[name] = LeaderBinding(side, chain, assembly, self.sim_time)

    # Motors keep their EEPROM (homing offset, drive mode, ids, ...) through a power cycle; so does
    # the simulated rig, in a file beside each arm's port, so a calibration outlives the simulator.
    EEPROM_KEPT = ("homing_offset", "drive_mode")

    def eeprom_path(self, name: str) -> Path:
        return Path(self.rig.arms[name].port + ".eeprom.json")

    def _load_eeprom(self, name: str) -> dict:
        try:
            data = json.loads(self.eeprom_path(name).read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save_eeprom(self, name: str, chain: DynamixelChainEmulator) -> None:
        state = {str(m.id): {reg: m.get(reg) for reg in self.EEPROM_KEPT} for m in chain.motors}
        try:
            self.eeprom_path(name).write_text(json.dumps(state, indent=1))
        except OSError:
            pass  # a read-only or vanished folder: the next start is a factory-fresh arm

    def _new_operator(self) -> ScriptedOperator:
        style = self.rig.sim.operator_style if self.rig.sim else "human"
        return ScriptedOperator(self.task_name, self.seed, style=style)

    def _attach_operator(self) -> None:
        for name, binding in self.leaders.items():
            side = self.rig.arms[name].side
            if self.operator_enabled and self.operator is not None and side in ("left", "right"):
                operator = self.operator
                binding.pose_at = lambda t, s=side, op=operator: op.target(s, t)
            else:
                binding.pose_at = None

    def _step_physics(self, t: float) -> None:
        if not self.realtime:
            for chain in self.chains.values():
                chain.wait_input_handled()
        with self._time_lock:
            if self.scene is not None:
                self.scene.step_to(t - self._t0)

    def _physics_loop(self) -> None:
        loop = RateLoop(PHYSICS_RATE_HZ, self.clock, priority=0)
        # The emulated servos' real-time threads need this process's interpreter lock for every step
        # of an answer; at the default 5 ms switch interval each step could wait that long behind
        # physics, the control server or the renderer, and a bus read took 20-40 ms.
        with short_gil_switch_interval():
            for _tick in loop.ticks(stop=self._stop):
                now = self.clock.now()
                with self._time_lock:
                    lag = max(0.0, now - self._t0 - self.scene.time)
                    self._lag_counts[min(int(lag * 1e3 / LAG_BIN_MS), LAG_BINS)] += 1
                    self._lag_max_s = max(self._lag_max_s, lag)
                self._step_physics(now)


def rig_with_ports_in(rig: RigSpec, directory: str | Path) -> RigSpec:
    """The same rig with every arm's port moved into `directory`, so several simulators (tests,
    benchmarks, a second user) can run side by side without taking each other's ports."""
    data = rig.model_dump()
    for name, arm in data["arms"].items():
        arm["port"] = str(Path(directory) / f"tty_{name}")
    return RigSpec.model_validate(data)


def lockstep_advance(rig: SimRig, dt: float) -> None:
    """Move a lockstep rig's time forward by dt (physics first)."""
    if not isinstance(rig.clock, LockstepClock):
        raise RuntimeError("lockstep_advance needs a rig opened with realtime=False")
    rig.clock.advance(dt)


__all__ = ["SimRig", "lockstep_advance", "rig_with_ports_in"]
