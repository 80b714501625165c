"""Emulated chains shaped like the arms of a rig file: what tests, the bench and a demo run against.

The motors come out of the box as they would from a shop shelf after their ids and baud rate were
set (return delay still at the factory 500 µs, position mode, torque off), so the driver's
configuration on connect has real work to do.
"""

from __future__ import annotations

from drivers.dynamixel.emulator import DynamixelChainEmulator, EmulatedMotorConfig
from robot_stack.rig.schema import ArmSpec


def motor_configs(spec: ArmSpec, *, return_delay_us: int = 500) -> list[EmulatedMotorConfig]:
    configs = []
    for motor in spec.motors.values():
        configs.append(EmulatedMotorConfig(id=motor.id, model=motor.model, return_delay_us=return_delay_us))
        if motor.shadow is not None:
            configs.append(
                EmulatedMotorConfig(id=motor.shadow.id, model=motor.model, return_delay_us=return_delay_us)
            )
    return configs


def chain_for_arm(
    spec: ArmSpec, *, wire_timing: bool = False, seed: int = 0, **options
) -> DynamixelChainEmulator:
    """An emulated chain (not started) holding every motor and shadow of `spec`, at its baud rate."""
    return DynamixelChainEmulator(
        motor_configs(spec), baud_rate=spec.baud_rate, wire_timing=wire_timing, seed=seed, **options
    )


def on_port(spec: ArmSpec, port: str) -> ArmSpec:
    """The same arm description with its port replaced (by an emulator's pseudo-terminal)."""
    return spec.model_copy(update={"port": port})
