"""DynamixelArm: configuration on connect and one-transaction reads and writes, on the emulator."""

from __future__ import annotations

import time

import numpy as np
import pytest

from drivers.dynamixel.arm import DynamixelArm
from drivers.dynamixel.emulated import chain_for_arm, on_port
from drivers.dynamixel.emulator import DynamixelChainEmulator, EmulatedMotorConfig
from drivers.dynamixel.errors import ConfigurationError, MotorNotRespondingError
from robot_stack.rig.schema import ArmSpec

FOLLOWER = {
    "role": "follower",
    "side": "left",
    "port": "set by the test",
    "gripper": "gripper",
    "motors": {
        "waist": {"id": 1, "model": "xm540-w270"},
        "shoulder": {"id": 2, "model": "xm540-w270", "shadow": {"id": 3}},
        "elbow": {"id": 4, "model": "xm540-w270", "shadow": {"id": 5, "reverse": False}},
        "wrist": {
            "id": 6,
            "model": "xm430-w350",
            "profile_velocity": 120,
            "profile_acceleration": 30,
            "pid": {"p": 900, "i": 5, "d": 40},
        },
        "gripper": {"id": 9, "model": "xm430-w350", "current_limit_ma": 300},
    },
}
LEADER = {
    "role": "leader",
    "side": "left",
    "port": "set by the test",
    "gripper": "gripper",
    "motors": {
        "waist": {"id": 1, "model": "xm430-w350"},
        "shoulder": {"id": 2, "model": "xm430-w350"},
        "wrist": {"id": 3, "model": "xl430-w250"},
        "gripper": {"id": 4, "model": "xl430-w250"},
    },
}


def spec_of(data: dict, **changes) -> ArmSpec:
    return ArmSpec.model_validate(data | changes)


@pytest.fixture
def follower_chain():
    with chain_for_arm(spec_of(FOLLOWER)) as chain:
        yield chain


# The emulator shares this process's GIL: allow replies to be later than real motors would be.
MARGIN_MS = 20


def open_arm(chain, data=FOLLOWER, name="left_follower", **options) -> DynamixelArm:
    return DynamixelArm(
        name, on_port(spec_of(data), chain.port_path), timeout_margin_ms=MARGIN_MS, **options
    ).open()


def test_follower_is_configured_on_connect(follower_chain):
    emu = follower_chain
    for motor_id in (1, 2, 4, 6, 9):
        emu.motor(motor_id).set("present_position", 1500 + motor_id)
    arm = open_arm(emu)
    try:
        assert arm.is_ready and arm.torque_enabled and arm.read_mode == "fast_sync_read"
        motors = {m.id: m for m in emu.motors}
        assert all(m.get("return_delay_time") == 0 for m in motors.values())
        assert motors[9].get("operating_mode") == 5  # follower gripper: current-based position
        assert all(motors[i].get("operating_mode") == 3 for i in (1, 2, 3, 4, 5, 6))
        assert motors[9].get("current_limit") == round(300 / 2.69) == motors[9].get("goal_current")
        assert (motors[6].get("profile_velocity"), motors[6].get("profile_acceleration")) == (120, 30)
        gains = [motors[6].get(f"position_{k}_gain") for k in "pid"]
        assert gains == [900, 5, 40]
        # Shadows follow their primary through the Secondary ID; direction per the rig file.
        assert (motors[3].get("secondary_id"), motors[3].get("drive_mode") & 1) == (2, 1)
        assert (motors[5].get("secondary_id"), motors[5].get("drive_mode") & 1) == (4, 0)
        assert all(m.get("torque_enable") == 1 for m in motors.values())
        # Torque came on holding the pose: no jump to a stale goal.
        assert [motors[i].get("goal_position") for i in (1, 2, 4, 6, 9)] == [1501, 1502, 1504, 1506, 1509]
        assert any("operating_mode 3 -> 5" in c for c in arm.config_report.changed)
    finally:
        arm.close()
    assert not arm.is_ready
    assert emu.motor(1).get("torque_enable") == 1  # closing the port does not drop the arm


def test_reconnect_changes_nothing_and_keeps_holding(follower_chain):
    open_arm(follower_chain).close()
    arm = open_arm(follower_chain)
    try:
        assert arm.config_report.changed == [] and not arm.config_report.torque_cycled
    finally:
        arm.close()


def test_eeprom_change_on_a_torqued_arm_cycles_torque(follower_chain):
    emu = follower_chain
    emu.motor(9).set("torque_enable", 1)  # holding, but in plain position mode
    arm = open_arm(emu)
    try:
        assert arm.config_report.torque_cycled
        assert emu.motor(9).get("operating_mode") == 5 and emu.motor(9).get("torque_enable") == 1
    finally:
        arm.close()


def test_leader_reads_every_joint_in_one_transaction():
    spec = spec_of(LEADER)
    with chain_for_arm(spec) as emu:
        emu.motor(1).set("present_position", 100)
        emu.motor(3).set("present_position", -20)
        emu.motor(2).set("present_velocity", -4)
        emu.motor(4).set("present_load", 250)  # XL430: load, at the address of present_current
        emu.motor(1).set("present_current", -30)
        with DynamixelArm(
            "left_leader",
            on_port(spec, emu.port_path),
            read_velocity=True,
            read_current=True,
            timeout_margin_ms=MARGIN_MS,
        ) as arm:
            assert not arm.torque_enabled and all(m.get("torque_enable") == 0 for m in emu.motors)
            before = emu.stats.packets_in
            start = time.monotonic()
            first, second = arm.read(), arm.read()
            assert emu.stats.packets_in - before == 2  # one instruction per read
            assert list(first.positions) == [100, 2048, -20, 2048]
            assert list(first.velocities) == [0, -4, 0, 0]
            assert list(first.currents) == [-30, 0, 0, 250]
            assert start <= first.t <= second.t <= time.monotonic()
            assert (first.seq, second.seq) == (1, 2)
            assert arm.read_mode == "fast_sync_read"


def test_goal_positions_go_out_in_one_sync_write(follower_chain):
    emu = follower_chain
    arm = open_arm(emu)
    try:
        before = emu.stats.packets_in
        arm.write_goal(np.array([1000, 1100, 1200, 1300, 1400]))
        positions = arm.read().positions  # behind the write on the same line
        assert emu.stats.packets_in - before == 2
        assert [emu.motor(i).get("goal_position") for i in (1, 2, 4, 6, 9)] == [1000, 1100, 1200, 1300, 1400]
        assert positions.shape == (5,)
        with pytest.raises(ValueError, match="left_follower/elbow"):
            arm.write_goal([1000, 1100, float("inf"), 1300, 1400])
        # Verified: returns once the motors hold the goals, no read needed behind it.
        arm.write_goal([900, 1000, 1100, 1200, 1300], verify=True)
        assert [emu.motor(i).get("goal_position") for i in (1, 2, 4, 6, 9)] == [900, 1000, 1100, 1200, 1300]
        with pytest.raises(ConfigurationError, match=r"motor 4 \(left_follower/elbow\) holds 1100, not 5000"):
            arm.write_goal([900, 1000, 5000, 1200, 1300], verify=True)  # beyond max_position_limit
    finally:
        arm.close()


def test_torque_off_and_on_again_holds_the_new_pose(follower_chain):
    emu = follower_chain
    arm = open_arm(emu)
    try:
        arm.set_torque(False)
        assert all(m.get("torque_enable") == 0 for m in emu.motors)
        emu.motor(4).set("present_position", 3000)  # moved by hand while limp
        arm.set_torque(True)
        assert emu.motor(4).get("goal_position") == 3000 and emu.motor(4).get("torque_enable") == 1
    finally:
        arm.close()


def test_wrong_model_is_named_with_its_joint():
    spec = spec_of(LEADER)
    motors = [EmulatedMotorConfig(id=m.id, model=m.model) for m in spec.motors.values()]
    motors[2] = EmulatedMotorConfig(id=3, model="xm430-w350")
    with DynamixelChainEmulator(motors) as emu:
        with pytest.raises(ConfigurationError) as err:
            DynamixelArm("left_leader", on_port(spec, emu.port_path), timeout_margin_ms=MARGIN_MS).open()
    assert "motor 3 (left_leader/wrist) is xm430-w350, the rig file says xl430-w250" in err.value.message


def test_missing_motors_are_all_named(follower_chain):
    follower_chain.faults.silent_ids.update({5, 9})
    arm = DynamixelArm(
        "left_follower",
        on_port(spec_of(FOLLOWER), follower_chain.port_path),
        retries=1,
        timeout_margin_ms=MARGIN_MS,
    )
    with pytest.raises(MotorNotRespondingError) as err:
        arm.open()
    assert err.value.motor_ids == [5, 9]
    assert "left_follower/elbow_shadow" in err.value.message and "left_follower/gripper" in err.value.message
    assert not arm.is_ready and not arm.bus.is_ready  # the port was released


def test_current_mode_on_a_model_without_current_control_is_refused():
    data = LEADER | {"role": "follower"}  # a follower gripper defaults to current-based position
    with chain_for_arm(spec_of(data)) as emu:
        with pytest.raises(ConfigurationError, match="no current control"):
            open_arm(emu, data, name="right_follower")
