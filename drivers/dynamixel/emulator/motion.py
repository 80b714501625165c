"""The built-in 'ideal servo': a motion model for when no physics is attached.

A torque-on motor in a position mode moves its shaft straight toward Goal Position at Profile
Velocity (Velocity Limit when the profile is 0, i.e. unlimited), with no acceleration, no load and
no overshoot; in Velocity Control Mode it turns at Goal Velocity. Current and PWM modes hold still.
It is advanced lazily, each time a packet arrives, so it needs no thread of its own.
"""

from __future__ import annotations

from drivers.dynamixel.emulator.motor import EmulatedMotor
from robot_stack.rig.motor_catalog import OPERATING_MODES

_POSITION_MODES = {OPERATING_MODES[m] for m in ("position", "extended_position", "current_position")}
_VELOCITY_MODE = OPERATING_MODES["velocity"]
RPM_PER_VELOCITY_UNIT = 0.229


def ticks_per_second(velocity_units: float, resolution: int) -> float:
    return velocity_units * RPM_PER_VELOCITY_UNIT / 60.0 * resolution


class IdealServo:
    def __init__(self) -> None:
        self._last: dict[int, float] = {}
        self._driving: set[int] = set()

    def __call__(self, motors: list[EmulatedMotor], now: float) -> None:
        for m in motors:
            last = self._last.get(id(m), now)
            self._last[id(m)] = now
            if m.torque_enabled:
                self._driving.add(id(m))
                self._advance(m, max(0.0, now - last))
            elif id(m) in self._driving:
                # Torque just went off: the shaft stops. Otherwise leave it to whoever set it.
                self._driving.discard(id(m))
                m.set_raw_velocity(0.0)

    @staticmethod
    def _advance(m: EmulatedMotor, dt: float) -> None:
        mode = m.get("operating_mode")
        resolution = m.table.model.resolution
        if mode in _POSITION_MODES:
            speed_units = m.get("profile_velocity") or m.get("velocity_limit")
            speed = ticks_per_second(speed_units, resolution)
            error = m.goal_raw_position() - m.raw_position
            step = min(abs(error), speed * dt)
            m.set_raw_position(m.raw_position + (step if error > 0 else -step))
            arrived = abs(error) <= speed * dt
            m.set_raw_velocity(0.0 if arrived else (speed_units if error > 0 else -speed_units))
        elif mode == _VELOCITY_MODE:
            units = max(-m.get("velocity_limit"), min(m.get("velocity_limit"), m.goal_raw_velocity()))
            m.set_raw_position(m.raw_position + ticks_per_second(units, resolution) * dt)
            m.set_raw_velocity(units)
        else:
            m.set_raw_velocity(0.0)
