"""Rules of a rig description that relate several fields. Each problem names its exact path."""

from __future__ import annotations

from dataclasses import dataclass

from robot_stack.rig.motor_catalog import CURRENT_MODES, MOTOR_MODELS
from robot_stack.rig.schema import CameraSpec, RigSpec

REALSENSE_FPS = (6, 15, 30, 60, 90)
MAX_FPS = {"opencv": 120, "sim": 120}


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def check_rig(rig: RigSpec) -> list[Problem]:
    problems: list[Problem] = []
    problems += _check_motor_ids(rig)
    problems += _check_ports(rig)
    problems += _check_arm_details(rig)
    problems += _check_pairs(rig)
    for name, cam in rig.cameras.items():
        problems += _check_camera(f"cameras.{name}", cam)
    wd = rig.deploy.watchdog
    if wd.park_after_s <= wd.hold_after_s:
        problems.append(
            Problem(
                "deploy.watchdog.park_after_s",
                f"park_after_s ({wd.park_after_s}) must be longer than hold_after_s ({wd.hold_after_s}); "
                "the arm holds first, then parks",
            )
        )
    return problems


def _check_motor_ids(rig: RigSpec) -> list[Problem]:
    problems = []
    for arm_name, arm in rig.arms.items():
        owner: dict[int, str] = {}
        for joint, motor in arm.motors.items():
            ids = [(motor.id, f"arms.{arm_name}.motors.{joint}.id", joint)]
            if motor.shadow:
                ids.append((motor.shadow.id, f"arms.{arm_name}.motors.{joint}.shadow.id", f"{joint} shadow"))
            for motor_id, path, label in ids:
                if motor_id in owner:
                    problems.append(
                        Problem(
                            path,
                            f"motor id {motor_id} is already used by {owner[motor_id]} on port {arm.port}; "
                            "every motor on a port needs its own id (set one with `robot-stack motors set-id`)",
                        )
                    )
                else:
                    owner[motor_id] = label
    return problems


def _check_ports(rig: RigSpec) -> list[Problem]:
    problems = []
    port_owner: dict[str, str] = {}
    for arm_name, arm in rig.arms.items():
        if arm.port in port_owner:
            problems.append(
                Problem(
                    f"arms.{arm_name}.port",
                    f"port {arm.port} is already used by arm '{port_owner[arm.port]}'; "
                    "each arm needs its own serial adapter and port",
                )
            )
        else:
            port_owner[arm.port] = arm_name
    return problems


def _check_arm_details(rig: RigSpec) -> list[Problem]:
    problems = []
    for arm_name, arm in rig.arms.items():
        if arm.gripper is not None and arm.gripper not in arm.motors:
            problems.append(
                Problem(
                    f"arms.{arm_name}.gripper",
                    f"gripper joint '{arm.gripper}' is not one of this arm's motors "
                    f"({', '.join(arm.motors)}); name the gripper's joint or remove the key",
                )
            )
        else:
            problems += _check_pose_lengths(arm_name, arm)
        for joint, motor in arm.motors.items():
            model = MOTOR_MODELS[motor.model]
            if arm.baud_rate > model.max_baud_rate:
                problems.append(
                    Problem(
                        f"arms.{arm_name}.baud_rate",
                        f"{arm.baud_rate} baud is faster than {motor.model} ({joint}) supports "
                        f"({model.max_baud_rate}); lower the arm's baud_rate",
                    )
                )
            if motor.operating_mode in CURRENT_MODES and model.current_unit_ma is None:
                problems.append(
                    Problem(
                        f"arms.{arm_name}.motors.{joint}.operating_mode",
                        f"{motor.model} has no current control, so it cannot run in "
                        f"'{motor.operating_mode}' mode; use position, or a model with current control",
                    )
                )
            if motor.current_limit_ma is not None and model.current_unit_ma is None:
                problems.append(
                    Problem(
                        f"arms.{arm_name}.motors.{joint}.current_limit_ma",
                        f"{motor.model} has no current limit register; remove current_limit_ma",
                    )
                )
    return problems


def _check_pose_lengths(arm_name: str, arm) -> list[Problem]:
    problems = []
    moving = [j for j in arm.motors if j != arm.gripper]
    for pose_name in ("zero", "rotated"):
        pose = getattr(arm.calibration_poses, pose_name)
        if pose is not None and len(pose) != len(moving):
            problems.append(
                Problem(
                    f"arms.{arm_name}.calibration_poses.{pose_name}",
                    f"{len(pose)} values for {len(moving)} joints ({', '.join(moving)}); "
                    "give one angle in radians per joint, the gripper left out",
                )
            )
    if arm.rest_pose is not None and len(arm.rest_pose) != len(arm.motors):
        problems.append(
            Problem(
                f"arms.{arm_name}.rest_pose",
                f"{len(arm.rest_pose)} values for {len(arm.motors)} joints ({', '.join(arm.motors)}); "
                "give one value per joint, gripper included (0 closed .. 1 open)",
            )
        )
    return problems


def _check_pairs(rig: RigSpec) -> list[Problem]:
    problems = []
    used: dict[str, int] = {}
    for index, pair in enumerate(rig.pairs):
        for field, want in (("leader", "leader"), ("follower", "follower")):
            arm_name = getattr(pair, field)
            path = f"pairs[{index}].{field}"
            arm = rig.arms.get(arm_name)
            if arm is None:
                problems.append(Problem(path, f"no arm named '{arm_name}'; arms are: {', '.join(rig.arms)}"))
                continue
            if arm.role != want:
                problems.append(
                    Problem(
                        path,
                        f"arm '{arm_name}' is a {arm.role}; a pair joins a leader to a follower",
                    )
                )
            if arm_name in used:
                problems.append(
                    Problem(
                        path, f"arm '{arm_name}' is already in pairs[{used[arm_name]}]; an arm joins one pair"
                    )
                )
            else:
                used[arm_name] = index
        leader, follower = rig.arms.get(pair.leader), rig.arms.get(pair.follower)
        if leader and follower and leader.joint_names != follower.joint_names:
            problems.append(
                Problem(
                    f"pairs[{index}]",
                    f"leader '{pair.leader}' joints ({', '.join(leader.joint_names)}) differ from follower "
                    f"'{pair.follower}' joints ({', '.join(follower.joint_names)}); paired arms need the same "
                    "joint names in the same order",
                )
            )
    return problems


def _check_camera(path: str, cam: CameraSpec) -> list[Problem]:
    problems = []
    if cam.driver == "realsense":
        if cam.fps not in REALSENSE_FPS:
            problems.append(
                Problem(
                    f"{path}.fps",
                    f"a RealSense camera cannot stream at {cam.fps} fps; use one of: "
                    f"{', '.join(str(f) for f in REALSENSE_FPS)}",
                )
            )
        if not cam.serial:
            problems.append(
                Problem(
                    f"{path}.serial", "a RealSense camera is chosen by serial number; add serial: '<serial>'"
                )
            )
    else:
        if cam.fps > MAX_FPS[cam.driver]:
            problems.append(
                Problem(
                    f"{path}.fps",
                    f"a {cam.driver} camera cannot deliver {cam.fps} fps; use at most {MAX_FPS[cam.driver]}",
                )
            )
        if cam.device is None:
            what = "/dev/videoN or an index" if cam.driver == "opencv" else "the scene camera's name"
            problems.append(Problem(f"{path}.device", f"a {cam.driver} camera needs device: {what}"))
        if cam.depth:
            problems.append(
                Problem(f"{path}.depth", "depth is only available from RealSense cameras; remove it")
            )
    return problems
