"""What can go wrong on a Dynamixel bus, phrased for the person at the rig.

Every error names the port, the motor id and — where the bus knows it — the arm and joint, and says
what to check. Hardware errors reported by a motor (overload, overheating, ...) are not exceptions:
the reply that carried the alert is still valid, so they surface as `HardwareErrorEvent`s.
"""

from __future__ import annotations

from dataclasses import dataclass

from robot_stack.errors import RobotStackError


def format_baud(baud_rate: int) -> str:
    if baud_rate >= 1_000_000:
        return f"{baud_rate / 1_000_000:g} Mbps"
    return f"{baud_rate / 1000:g} kbps"


class DynamixelError(RobotStackError):
    """Base of every error the Dynamixel driver raises."""


class PortError(DynamixelError):
    """The serial port cannot be used: missing, held by another process, no permission, or lost."""

    def __init__(self, port: str, reason: str, message: str, hint: str | None = None):
        super().__init__(message, hint)
        self.port = port
        self.reason = reason  # "missing" | "busy" | "permission" | "lost" | "unsupported_baud" | "closed"


class MotorNotRespondingError(DynamixelError):
    """One or more motors sent no (valid) status packet within the retry budget."""

    def __init__(self, message: str, hint: str, motor_ids: list[int], joints: list[str | None]):
        super().__init__(message, hint)
        self.motor_ids = motor_ids
        self.joints = joints


class CorruptReplyError(DynamixelError):
    """Replies arrived but kept failing their CRC or framing within the retry budget."""

    def __init__(self, message: str, hint: str, motor_ids: list[int]):
        super().__init__(message, hint)
        self.motor_ids = motor_ids


class MotorRejectedError(DynamixelError):
    """A motor answered, but refused the instruction (status packet error field)."""

    def __init__(self, message: str, hint: str | None, motor_id: int, error_code: int):
        super().__init__(message, hint)
        self.motor_id = motor_id
        self.error_code = error_code


class ConfigurationError(DynamixelError):
    """The motors found on the bus do not match the rig description, or cannot take its settings."""


# Error numbers of the status packet's error field (bits 0-6), from the Protocol 2.0 description.
STATUS_ERRORS: dict[int, tuple[str, str]] = {
    1: ("result fail", "the motor could not process the instruction"),
    2: ("instruction error", "the motor does not know this instruction (firmware too old?)"),
    3: ("CRC error", "the instruction was corrupted on the wire"),
    4: ("data range error", "the value is outside the register's range"),
    5: ("data length error", "the data is shorter than the register"),
    6: (
        "data limit error",
        "the value is beyond the limit set in the motor (e.g. position or current limit)",
    ),
    7: ("access error", "the register is read-only, or EEPROM while torque is on"),
}
ALERT_BIT = 0x80


def describe_status_error(code: int) -> str:
    name, meaning = STATUS_ERRORS.get(code & 0x7F, (f"error {code & 0x7F}", "unknown error code"))
    return f"{name}: {meaning}"


HARDWARE_ERROR_HINTS: dict[str, str] = {
    "overload": "the joint is blocked or loaded beyond the motor's torque; free it and lower the "
    "current limit or goal, then reboot the motor (`robot-stack motors reboot`)",
    "overheating": "let the motor cool down, reduce its load, then reboot it",
    "input_voltage": "check the power supply voltage against the motor's rated range, then reboot it",
    "motor_encoder": "the encoder failed; check the motor for damage, then reboot it",
    "electrical_shock": "the motor's circuit was shorted or overcurrent; check wiring and power, then reboot it",
}


@dataclass(frozen=True)
class HardwareErrorEvent:
    """A motor raised its alert bit; `errors` is the decoded Hardware Error Status register.

    The motor turns its torque off and keeps it off until rebooted.
    """

    motor_id: int
    joint: str | None  # "left_follower/elbow" where the bus knows the motor
    port: str
    status: int  # raw Hardware Error Status (register 70)
    errors: tuple[str, ...]
    t: float  # host monotonic time the alert was seen

    @property
    def label(self) -> str:
        return motor_label(self.motor_id, self.joint)

    def __str__(self) -> str:
        what = ", ".join(self.errors) if self.errors else f"status 0x{self.status:02x}"
        return f"{self.label} on {self.port} reports a hardware error: {what}"

    @property
    def hint(self) -> str:
        hints = [HARDWARE_ERROR_HINTS[e] for e in self.errors if e in HARDWARE_ERROR_HINTS]
        return "; ".join(hints) or "read the motor's registers with `robot-stack motors read`, then reboot it"


def motor_label(motor_id: int, joint: str | None) -> str:
    return f"motor {motor_id} ({joint})" if joint else f"motor {motor_id}"
