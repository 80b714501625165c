"""Every malformed rig file gets one clear message naming the file, the field path and the fix."""

import copy
import json
from pathlib import Path

import pytest
import yaml

from robot_stack.app.cli import main
from robot_stack.rig import RigFileError, load_rig
from robot_stack.rig.motor_catalog import MOTOR_MODELS

REPO = Path(__file__).resolve().parent.parent
# Through JSON so the YAML anchors' shared objects become independent copies per arm.
BASE = json.loads(json.dumps(yaml.safe_load((REPO / "hardware.yaml").read_text())))


def write_rig(tmp_path: Path, data) -> Path:
    path = tmp_path / "rig.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False) if not isinstance(data, str) else data)
    return path


def problems_of(tmp_path: Path, data) -> list[str]:
    path = write_rig(tmp_path, data)
    with pytest.raises(RigFileError) as info:
        load_rig(path)
    assert info.value.message.startswith(f"{path} is not a valid rig description")
    return [str(p) for p in info.value.problems]


def mutated(fn) -> dict:
    data = copy.deepcopy(BASE)
    fn(data)
    return data


@pytest.mark.parametrize("path", ["hardware.yaml", "examples/aloha.yaml", "examples/koch_bimanual.yaml"])
def test_shipped_rig_files_are_valid(path):
    rig = load_rig(REPO / path)
    assert len(rig.arms) == 4 and len(rig.pairs) == 2


def test_default_rig_is_the_simulated_bimanual_aloha():
    rig = load_rig(REPO / "hardware.yaml")
    assert rig.backend == "sim"
    assert sorted(a.role for a in rig.arms.values()) == ["follower", "follower", "leader", "leader"]
    follower = rig.arms["left_follower"]
    assert follower.motors["shoulder"].shadow.id == 3 and follower.motors["elbow"].shadow.id == 5
    assert follower.motors["gripper"].operating_mode == "current_position"
    assert len(rig.cameras) == 4


def test_unknown_key(tmp_path):
    data = mutated(lambda d: d["arms"]["left_leader"].update(baudrate=1000000))
    assert problems_of(tmp_path, data) == [
        "arms.left_leader.baudrate: unknown key 'baudrate'; remove it or fix its spelling "
        "(allowed here: role, side, port, baud_rate, protocol, return_delay_us, reply_timeout_ms, motors, gripper, "
        "calibration_poses, rest_pose)"
    ]


def test_unknown_top_level_key(tmp_path):
    data = mutated(lambda d: d.update(camera={}))
    assert problems_of(tmp_path, data) == [
        "camera: unknown key 'camera'; remove it or fix its spelling (allowed here: name, backend, "
        "control_rate_hz, realtime_priority, arms, pairs, cameras, deploy, sim, "
        "calibration_dir)"
    ]


def test_missing_field(tmp_path):
    data = mutated(lambda d: d["arms"]["right_follower"].pop("port"))
    assert problems_of(tmp_path, data) == ["arms.right_follower.port: required field is missing; add it"]


def test_duplicate_motor_id_on_a_port(tmp_path):
    data = mutated(lambda d: d["arms"]["left_follower"]["motors"]["wrist_angle"].update(id=6))
    assert problems_of(tmp_path, data) == [
        "arms.left_follower.motors.wrist_angle.id: motor id 6 is already used by forearm_roll on port "
        "/tmp/robot_stack/ttyDXL_left_follower; every motor on a port needs its own id "
        "(set one with `robot-stack motors set-id`)"
    ]


def test_shadow_id_colliding_with_a_joint(tmp_path):
    data = mutated(lambda d: d["arms"]["left_leader"]["motors"]["elbow"]["shadow"].update(id=6))
    assert problems_of(tmp_path, data) == [
        "arms.left_leader.motors.forearm_roll.id: motor id 6 is already used by elbow shadow on port "
        "/tmp/robot_stack/ttyDXL_left_leader; every motor on a port needs its own id "
        "(set one with `robot-stack motors set-id`)"
    ]


def test_port_shared_by_two_arms(tmp_path):
    data = mutated(lambda d: d["arms"]["right_leader"].update(port="/tmp/robot_stack/ttyDXL_left_leader"))
    assert problems_of(tmp_path, data) == [
        "arms.right_leader.port: port /tmp/robot_stack/ttyDXL_left_leader is already used by arm "
        "'left_leader'; each arm needs its own serial adapter and port"
    ]


def test_pair_between_two_leaders(tmp_path):
    data = mutated(lambda d: d["pairs"][1].update(follower="left_leader"))
    assert problems_of(tmp_path, data) == [
        "pairs[1].follower: arm 'left_leader' is a leader; a pair joins a leader to a follower",
        "pairs[1].follower: arm 'left_leader' is already in pairs[0]; an arm joins one pair",
    ]


def test_pair_naming_a_missing_arm(tmp_path):
    data = mutated(lambda d: d["pairs"][0].update(leader="left_leder"))
    assert problems_of(tmp_path, data) == [
        "pairs[0].leader: no arm named 'left_leder'; arms are: left_leader, right_leader, left_follower, "
        "right_follower"
    ]


def test_unknown_motor_model(tmp_path):
    data = mutated(lambda d: d["arms"]["left_follower"]["motors"]["waist"].update(model="xm540-w999"))
    assert problems_of(tmp_path, data) == [
        "arms.left_follower.motors.waist.model: unknown motor model 'xm540-w999'; known models: "
        + ", ".join(sorted(MOTOR_MODELS))
    ]


def test_fps_a_realsense_cannot_do(tmp_path):
    def edit(d):
        d["cameras"]["cam_high"] = {"driver": "realsense", "serial": "123", "fps": 50}

    assert problems_of(tmp_path, mutated(edit)) == [
        "cameras.cam_high.fps: a RealSense camera cannot stream at 50 fps; use one of: 6, 15, 30, 60, 90"
    ]


def test_fps_a_webcam_cannot_do(tmp_path):
    def edit(d):
        d["cameras"]["cam_low"] = {"driver": "opencv", "device": "/dev/video0", "fps": 240}

    assert problems_of(tmp_path, mutated(edit)) == [
        "cameras.cam_low.fps: a opencv camera cannot deliver 240 fps; use at most 120"
    ]


def test_wrong_type_and_bad_literal(tmp_path):
    def edit(d):
        d["arms"]["left_leader"]["role"] = "puppet"
        d["control_rate_hz"] = "fast"

    assert problems_of(tmp_path, mutated(edit)) == [
        "control_rate_hz: input should be a valid number, unable to parse string as a number (got 'fast')",
        "arms.left_leader.role: input should be 'leader' or 'follower' (got 'puppet')",
    ]


def test_unknown_operator_style(tmp_path):
    assert problems_of(tmp_path, mutated(lambda d: d["sim"].update(operator_style="lazy"))) == [
        "sim.operator_style: input should be 'human' or 'steady' (got 'lazy')"
    ]
    steady = write_rig(tmp_path, mutated(lambda d: d["sim"].update(operator_style="steady")))
    assert load_rig(steady).sim.operator_style == "steady"


def test_baud_rate_a_motor_cannot_use(tmp_path):
    data = mutated(lambda d: d["arms"]["left_leader"].update(baud_rate=250000))
    assert problems_of(tmp_path, data) == [
        "arms.left_leader.baud_rate: baud rate 250000 is not one an X-series motor can use; use one of: "
        "9600, 57600, 115200, 1000000, 2000000, 3000000, 4000000, 4500000"
    ]


def test_current_mode_on_a_motor_without_current_control(tmp_path):
    data = mutated(
        lambda d: d["arms"]["left_leader"]["motors"]["gripper"].update(operating_mode="current_position")
    )
    assert problems_of(tmp_path, data) == [
        "arms.left_leader.motors.gripper.operating_mode: xl430-w250 has no current control, so it cannot "
        "run in 'current_position' mode; use position, or a model with current control"
    ]


def test_gripper_not_a_joint(tmp_path):
    data = mutated(lambda d: d["arms"]["left_leader"].update(gripper="claw"))
    assert problems_of(tmp_path, data) == [
        "arms.left_leader.gripper: gripper joint 'claw' is not one of this arm's motors (waist, shoulder, "
        "elbow, forearm_roll, wrist_angle, wrist_rotate, gripper); name the gripper's joint or remove the key"
    ]


def test_yaml_syntax_error_names_line(tmp_path):
    assert problems_of(tmp_path, "name: x\narms: [\n") == [
        "line 3, column 1: expected the node content, but found '<stream end>'"
    ]


def test_duplicate_yaml_key_names_both_lines(tmp_path):
    text = "name: a\nbackend: sim\nname: b\narms: {}\n"
    assert problems_of(tmp_path, text) == ["line 3, column 1: key 'name' appears twice (first on line 1)"]


def test_not_a_mapping(tmp_path):
    assert problems_of(tmp_path, "- just\n- a list\n") == [
        "the file must be a mapping with keys name, backend, arms, ..."
    ]


def test_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["--rig", str(tmp_path / "nope.yaml"), "rig", "show"]) == 1
    err = capsys.readouterr().err
    assert f"rig file {tmp_path / 'nope.yaml'} not found" in err
    assert "Traceback" not in err


def test_cli_check_exit_status_and_message(tmp_path, capsys):
    bad = write_rig(tmp_path, mutated(lambda d: d["arms"]["left_follower"]["motors"]["waist"].update(id=4)))
    assert main(["rig", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "arms.left_follower.motors.elbow.id: motor id 4 is already used by waist" in out
    assert "Traceback" not in out
    assert main(["rig", "check", str(REPO / "hardware.yaml")]) == 0
    assert "valid" in capsys.readouterr().out


def test_cli_show_lists_arms_and_cameras(capsys):
    assert main(["--rig", str(REPO / "examples/koch_bimanual.yaml"), "rig", "show"]) == 0
    out = capsys.readouterr().out
    for word in ("left_follower", "xl330-m288", "cam_top", "realsense", "current_position"):
        assert word in out


def test_calibration_pose_needs_one_angle_per_joint(tmp_path):
    data = mutated(lambda d: d["arms"]["left_leader"].update(calibration_poses={"rotated": [1.57, 1.57]}))
    assert problems_of(tmp_path, data) == [
        "arms.left_leader.calibration_poses.rotated: 2 values for 6 joints (waist, shoulder, elbow, "
        "forearm_roll, wrist_angle, wrist_rotate); give one angle in radians per joint, the gripper left out"
    ]


def test_rest_pose_needs_every_joint(tmp_path):
    data = mutated(lambda d: d["arms"]["left_follower"].update(rest_pose=[0, 0, 0]))
    assert problems_of(tmp_path, data) == [
        "arms.left_follower.rest_pose: 3 values for 7 joints (waist, shoulder, elbow, forearm_roll, "
        "wrist_angle, wrist_rotate, gripper); give one value per joint, gripper included (0 closed .. 1 open)"
    ]
