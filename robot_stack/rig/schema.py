"""The rig description (`hardware.yaml`) as a typed schema.

Field-level rules live here; rules that relate several fields (ids unique on a port, pairs join a
leader to a follower, ...) live in `robot_stack.rig.checks`, so each message can name its exact path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from robot_stack.rig.motor_catalog import BAUD_RATES, MOTOR_MODELS, OPERATING_MODES


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PidSpec(StrictModel):
    p: int = Field(ge=0, le=16383)
    i: int = Field(default=0, ge=0, le=16383)
    d: int = Field(default=0, ge=0, le=16383)


class ShadowSpec(StrictModel):
    """A second motor on the same joint (ViperX shoulder/elbow) that follows its primary."""

    id: int = Field(ge=0, le=252)
    reverse: bool = True  # mounted facing the primary, so it turns the other way


class MotorSpec(StrictModel):
    id: int = Field(ge=0, le=252)
    model: str
    shadow: ShadowSpec | None = None
    operating_mode: str | None = None  # None: position for joints, current_position for a follower gripper
    current_limit_ma: float | None = Field(default=None, gt=0)
    profile_velocity: int | None = Field(default=None, ge=0)
    profile_acceleration: int | None = Field(default=None, ge=0)
    pid: PidSpec | None = None

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        name = value.strip().lower()
        if name not in MOTOR_MODELS:
            raise ValueError(
                f"unknown motor model '{value}'; known models: {', '.join(sorted(MOTOR_MODELS))}"
            )
        return name

    @field_validator("operating_mode")
    @classmethod
    def _known_mode(cls, value: str | None) -> str | None:
        if value is not None and value not in OPERATING_MODES:
            raise ValueError(f"unknown operating mode '{value}'; use one of: {', '.join(OPERATING_MODES)}")
        return value


class CalibrationPoses(StrictModel):
    """Two poses a person can find by eye on this arm (joint values in radians, gripper left out).

    They define the shared joint frame: calibration maps what every arm's encoders read in these
    poses onto these values, so leader and follower agree on what a joint angle is.
    """

    zero: list[float] | None = None  # default: every joint at 0 (arm straight)
    rotated: list[float] | None = None  # default: every joint at +90°


class ArmSpec(StrictModel):
    role: Literal["leader", "follower"]
    side: Literal["left", "right", "center"]
    port: str = Field(min_length=1)
    baud_rate: int = 1_000_000
    protocol: float = 2.0
    return_delay_us: int = Field(default=0, ge=0, le=508)
    # How long past the wire time (and the adapter's latency timer) a reply may take before a try
    # counts as lost. Motors answer within microseconds; a simulated chain needs more slack.
    reply_timeout_ms: float = Field(default=3.0, gt=0, le=1000)
    motors: dict[str, MotorSpec] = Field(min_length=1)  # joint name → motor, in joint order
    gripper: str | None = None  # the joint name of the gripper, if the arm has one
    calibration_poses: CalibrationPoses = CalibrationPoses()
    # Where a follower parks when teleop or deploy stops (joints in rad, gripper 0..1, joint order);
    # None: the pose it was in when the loop started.
    rest_pose: list[float] | None = None

    @field_validator("baud_rate")
    @classmethod
    def _known_baud(cls, value: int) -> int:
        if value not in BAUD_RATES:
            raise ValueError(
                f"baud rate {value} is not one an X-series motor can use; "
                f"use one of: {', '.join(str(b) for b in BAUD_RATES)}"
            )
        return value

    @field_validator("protocol")
    @classmethod
    def _protocol_two(cls, value: float) -> float:
        if value != 2.0:
            raise ValueError(
                f"protocol {value} is not supported; X-series motors speak protocol 2.0 — set protocol: 2.0"
            )
        return value

    @property
    def joint_names(self) -> list[str]:
        return list(self.motors)

    def operating_mode_of(self, joint: str) -> str:
        """The rig file's mode, or the role default: current-based position for a follower's gripper
        (it can squeeze an object without overloading), position control for everything else."""
        motor = self.motors[joint]
        if motor.operating_mode is not None:
            return motor.operating_mode
        return "current_position" if self.role == "follower" and joint == self.gripper else "position"


class PairSpec(StrictModel):
    leader: str
    follower: str


class ExposureSpec(StrictModel):
    auto: bool = True
    exposure_us: int | None = Field(default=None, gt=0)
    gain: int | None = Field(default=None, ge=0)
    white_balance_k: int | None = Field(default=None, ge=2000, le=10000)


class CameraSpec(StrictModel):
    driver: Literal["opencv", "realsense", "sim"]
    device: str | int | None = None  # opencv: /dev/videoN or index; sim: the scene camera name
    serial: str | None = None  # realsense: serial number
    width: int = Field(default=640, gt=0, le=4096)
    height: int = Field(default=480, gt=0, le=4096)
    fps: int = Field(default=30, gt=0)
    depth: bool = False  # realsense only
    latency_ms: float = Field(default=0.0, ge=0)  # sim only: capture-to-delivery delay to model
    exposure: ExposureSpec = ExposureSpec()


class SafetySpec(StrictModel):
    max_step_rad: float = Field(default=0.05, gt=0)  # per-tick joint step limit
    max_gripper_step: float = Field(default=0.05, gt=0)  # per-tick gripper fraction step limit
    ramp_in_s: float = Field(default=2.0, ge=0)
    max_start_error_rad: float = Field(default=0.6, gt=0)  # refuse to start when farther apart
    park_s: float = Field(default=3.0, gt=0)
    torque_on_stop: Literal["keep", "off"] = "keep"


class WatchdogSpec(StrictModel):
    hold_after_s: float = Field(default=0.3, gt=0)  # no fresh plan → hold position
    park_after_s: float = Field(default=2.0, gt=0)  # still none → park


class DeploySpec(StrictModel):
    plan_endpoint: str = "inproc://plan"
    observation_endpoint: str = "inproc://observation"
    command_endpoint: str = "ipc:///tmp/robot_stack/command.sock"
    telemetry_endpoint: str = "ipc:///tmp/robot_stack/telemetry.sock"
    curve_keys_dir: str | None = None
    safety: SafetySpec = SafetySpec()
    watchdog: WatchdogSpec = WatchdogSpec()


# How the scripted operator demonstrates: "human" varies tempo, hesitations, tremor and strategy from
# take to take; "steady" does a scene one fixed way, the same for the same layout (as the ACT paper's
# scripted policy did), so demonstrations differ only where the objects lie.
OperatorStyle = Literal["human", "steady"]


class SimSpec(StrictModel):
    task: str = "transfer_cube"
    seed: int = 0
    realtime: bool = True
    operator_style: OperatorStyle = "human"


class RigSpec(StrictModel):
    name: str = Field(min_length=1)
    backend: Literal["sim", "hardware"]
    control_rate_hz: float = Field(default=50.0, gt=0, le=1000)
    # SCHED_FIFO priority of control-loop threads (needs root or CAP_SYS_NICE); 0 disables.
    realtime_priority: int = Field(default=40, ge=0, le=99)
    arms: dict[str, ArmSpec] = Field(min_length=1)
    pairs: list[PairSpec] = []
    cameras: dict[str, CameraSpec] = {}
    deploy: DeploySpec = DeploySpec()
    sim: SimSpec | None = None
    # Where the per-arm calibration files live, relative to this file's folder; None:
    # `<this file's name without .yaml>.calibration/` beside it.
    calibration_dir: str | None = None

    def arms_with_role(self, role: str) -> dict[str, ArmSpec]:
        return {name: arm for name, arm in self.arms.items() if arm.role == role}

    def follower_joint_names(self) -> list[str]:
        """Follower joints pair by pair, as `follower/joint`: the column order of recorded episodes."""
        return [f"{p.follower}/{j}" for p in self.pairs for j in self.arms[p.follower].joint_names]
