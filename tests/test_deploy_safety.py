"""The safety filter's refusals and clips, and how often it reports them."""

import numpy as np

from calibration.model import ArmCalibration, JointCalibration, MotorRegisters
from deploy.safety import EVENT_INTERVAL_S, ArmLimits, SafetyFilter

TICK_S = 0.02


def one_arm_filter() -> SafetyFilter:
    def joint(name, kind, motor_id, span):
        return JointCalibration(
            joint=name,
            kind=kind,
            motor=MotorRegisters(id=motor_id, model="xm430-w350", homing_offset=0, drive_mode=0),
            zero_ticks=2048,
            direction=1,
            ticks_per_unit=650.0,
            range=span,
        )

    calibration = ArmCalibration(
        rig="t",
        arm="follower",
        role="follower",
        created="2026-01-01T00:00:00+00:00",
        joints=[joint("waist", "revolute", 1, (-1.0, 1.0)), joint("gripper", "gripper", 2, (0.0, 1.0))],
    )
    limits = ArmLimits(
        "follower", ["waist", "gripper"], calibration.joint_map(), np.array([0.5, 0.5]), slice(0, 2)
    )
    return SafetyFilter([limits], start=np.array([0.0, 0.5]))


def test_a_gripper_hovering_at_its_limit_is_reported_once_a_second_and_counted_every_time():
    safety = one_arm_filter()
    events = []
    ticks = int(3 * EVENT_INTERVAL_S / TICK_S)
    for k in range(ticks):
        gripper = -0.0004 if k % 2 else 0.0003  # a policy's gripper chattering about "closed"
        command, new = safety(np.array([0.0, gripper]), k * TICK_S)
        assert 0.0 <= command[1] <= 1.0
        events += new
    clips = [e for e in events if e.name == "joint_limit"]
    assert 3 <= len(clips) <= 4, [e.t for e in clips]
    assert all("follower/gripper" in e.detail for e in clips)
    assert safety.counts["joint_limit"] == ticks // 2  # each clip that started, reported or not


def test_another_joint_clipping_is_reported_even_within_the_interval():
    safety = one_arm_filter()
    _, first = safety(np.array([0.0, -0.1]), 0.0)
    _, second = safety(np.array([1.5, -0.1]), TICK_S)
    clips = [e.detail.split()[0] for e in first + second if e.name == "joint_limit"]
    assert clips == ["follower/gripper", "follower/waist"]


def test_a_non_finite_target_is_refused_and_the_last_command_held():
    safety = one_arm_filter()
    command, events = safety(np.array([np.nan, 0.5]), 0.0)
    assert np.array_equal(command, [0.0, 0.5])
    assert [e.name for e in events] == ["nonfinite_command"]
