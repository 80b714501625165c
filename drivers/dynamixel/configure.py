"""Bring the motors of one arm to the settings its rig description asks for.

Checked first: every motor (and shadow) answers and is the model the rig file names. Then each motor
gets return delay 0, its operating mode, current limit, profiles and PID; a shadow motor gets its
Drive Mode direction (relative to its primary's) and a Secondary ID equal to its primary's id, so it executes every instruction
sent to the primary (and stays silent, leaving the replies to the primary).

EEPROM registers (address < 64) are write-locked while torque is on, and wear out; so they are read
first and written only where they differ, with torque off for the duration. A follower that is
already configured therefore keeps holding its pose through a reconnect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.dynamixel.bus import DynamixelBus, MotorInfo
from drivers.dynamixel.control_table import control_table
from drivers.dynamixel.errors import ConfigurationError, MotorNotRespondingError, format_baud
from robot_stack.rig.motor_catalog import CURRENT_MODES, OPERATING_MODES
from robot_stack.rig.schema import ArmSpec, MotorSpec

REVERSE_BIT = 0x01
NO_SECONDARY_ID = 255


@dataclass
class ConfigReport:
    changed: list[str] = field(
        default_factory=list
    )  # "motor 9 (left_follower/gripper): operating_mode 3 -> 5"
    torque_cycled: bool = False  # EEPROM changes forced torque off on an arm that had it on
    motors: dict[int, MotorInfo] = field(default_factory=dict)


def shadow_joint(joint: str) -> str:
    return f"{joint}_shadow"


def register_motors(bus: DynamixelBus, spec: ArmSpec) -> None:
    """Name every motor of the arm on its bus (shadows as `<joint>_shadow`)."""
    for joint, motor in spec.motors.items():
        bus.add_motor(joint, motor.id, motor.model)
        if motor.shadow is not None:
            bus.add_motor(shadow_joint(joint), motor.shadow.id, motor.model)


def verify_motors(bus: DynamixelBus, spec: ArmSpec) -> dict[int, MotorInfo]:
    """Ping every motor of the arm; name all missing or mismatched motors in one error."""
    expected: list[tuple[int, str]] = []
    for motor in spec.motors.values():
        expected.append((motor.id, motor.model))
        if motor.shadow is not None:
            expected.append((motor.shadow.id, motor.model))
    found: dict[int, MotorInfo] = {}
    missing: list[int] = []
    for motor_id, _ in expected:
        try:
            found[motor_id] = bus.ping(motor_id)
        except MotorNotRespondingError:
            missing.append(motor_id)
    if missing:
        names = ", ".join(bus.label(i) for i in missing)
        raise MotorNotRespondingError(
            f"{names} did not answer on {bus.port_name} at {format_baud(bus.baud_rate)}",
            f"check power and the cable chain; `robot-stack motors scan --port {bus.port_name} --all-bauds` "
            "shows which ids and baud rates answer; a new motor is id 1 at 57.6 kbps "
            "(`robot-stack motors set-id` / `set-baud`)",
            missing,
            [bus.joint_of(i) for i in missing],
        )
    wrong = [
        f"{bus.label(i)} is {found[i].model or f'model number {found[i].model_number}'}, the rig file says {model}"
        for i, model in expected
        if found[i].model != model
    ]
    if wrong:
        raise ConfigurationError(
            f"motors on {bus.port_name} do not match the rig file: " + "; ".join(wrong),
            "fix the model names in the rig file, or the ids of the motors (`robot-stack motors set-id`)",
        )
    return found


def desired_settings(spec: ArmSpec, joint: str, motor: MotorSpec) -> tuple[dict[str, int], dict[str, int]]:
    """(EEPROM, RAM) register values one motor of this arm should hold, in raw units."""
    table = control_table(motor.model)
    mode = spec.operating_mode_of(joint)
    if mode in CURRENT_MODES and not table.has("goal_current"):
        raise ConfigurationError(
            f"joint {joint} ({motor.model}, id {motor.id}) cannot run in {mode} mode: the model has no current control",
            "use operating_mode: position for it, or a model with current sensing (XM/XH series)",
        )
    eeprom = {"return_delay_time": spec.return_delay_us // 2, "operating_mode": OPERATING_MODES[mode]}
    ram: dict[str, int] = {}
    if motor.current_limit_ma is not None:
        if not table.has("current_limit") or table.model.current_unit_ma is None:
            raise ConfigurationError(
                f"joint {joint} ({motor.model}, id {motor.id}) has no current limit register",
                "remove current_limit_ma for this motor in the rig file",
            )
        raw_limit = round(motor.current_limit_ma / table.model.current_unit_ma)
        eeprom["current_limit"] = raw_limit
        if mode in CURRENT_MODES:
            ram["goal_current"] = raw_limit  # current-based position squeezes up to the limit
    if motor.profile_velocity is not None:
        ram["profile_velocity"] = motor.profile_velocity
    if motor.profile_acceleration is not None:
        ram["profile_acceleration"] = motor.profile_acceleration
    if motor.pid is not None:
        ram |= {
            "position_p_gain": motor.pid.p,
            "position_i_gain": motor.pid.i,
            "position_d_gain": motor.pid.d,
        }
    return eeprom, ram


def configure_arm(bus: DynamixelBus, spec: ArmSpec, *, torque: bool) -> ConfigReport:
    """Verify and configure every motor of the arm on `bus`, then set torque on or off.

    Torque on first sets each Goal Position to its Present Position, so the arm holds where it is
    instead of jumping to a goal left over from an earlier session.
    """
    report = ConfigReport(motors=verify_motors(bus, spec))
    plans: list[tuple[int, dict[str, int], dict[str, int]]] = []  # (id, eeprom, ram), shadows first
    for joint, motor in spec.motors.items():
        eeprom, ram = desired_settings(spec, joint, motor)
        if motor.shadow is not None:
            # The shadow turns opposite to its primary when `reverse`; relative to the primary's own
            # direction bit, which calibration may have set.
            primary_reversed = bool(bus.read(motor.id, "drive_mode") & REVERSE_BIT)
            current_drive = bus.read(motor.shadow.id, "drive_mode")
            reversed_ = primary_reversed != motor.shadow.reverse
            drive = (current_drive | REVERSE_BIT) if reversed_ else (current_drive & ~REVERSE_BIT)
            plans.append((motor.shadow.id, eeprom | {"drive_mode": drive, "secondary_id": motor.id}, ram))
        plans.append((motor.id, eeprom, ram))

    state = {motor_id: bus.read_table(motor_id) for motor_id, _, _ in plans}
    eeprom_diffs = {
        motor_id: {k: v for k, v in eeprom.items() if state[motor_id][k] != v}
        for motor_id, eeprom, _ in plans
    }
    torqued = [i for i, _, _ in plans if state[i]["torque_enable"]]
    if any(eeprom_diffs.values()) and torqued:
        report.torque_cycled = True
        for motor_id in torqued:
            bus.write(motor_id, "torque_enable", 0)
    for motor_id, _, ram in plans:
        for name, value in eeprom_diffs[motor_id].items():
            bus.write(motor_id, name, value)
            report.changed.append(f"{bus.label(motor_id)}: {name} {state[motor_id][name]} -> {value}")
        for name, value in ram.items():
            if state[motor_id][name] != value:
                bus.write(motor_id, name, value)
                report.changed.append(f"{bus.label(motor_id)}: {name} {state[motor_id][name]} -> {value}")
    set_torque(bus, spec, torque)
    return report


def set_torque(bus: DynamixelBus, spec: ArmSpec, enabled: bool) -> None:
    """Torque on (holding the present pose) or off, for every motor of the arm including shadows."""
    primaries = [m.id for m in spec.motors.values()]
    shadows = [m.shadow.id for m in spec.motors.values() if m.shadow is not None]
    if enabled:
        reader = bus.group_reader(primaries, ["present_position"])
        positions, _ = reader.read()
        bus.group_writer(primaries, "goal_position").write(positions[:, 0])
        # A shadow takes its primary's goals through the Secondary ID; give it the same pose in its
        # own frame before its torque comes on.
        for motor_id in shadows:
            bus.write(motor_id, "goal_position", bus.read(motor_id, "present_position"))
    for motor_id in shadows + primaries:
        bus.write(motor_id, "torque_enable", int(enabled))
