"""A Dynamixel Protocol 2.0 servo chain emulator on a pseudo-terminal (see docs/emulator.md)."""

from drivers.dynamixel.emulator.chain import ChainStats, DynamixelChainEmulator, wire_time_s
from drivers.dynamixel.emulator.faults import FaultInjector
from drivers.dynamixel.emulator.motor import EmulatedMotor, EmulatedMotorConfig

__all__ = [
    "ChainStats",
    "DynamixelChainEmulator",
    "EmulatedMotor",
    "EmulatedMotorConfig",
    "FaultInjector",
    "wire_time_s",
]
