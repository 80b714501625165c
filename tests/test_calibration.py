"""Calibration end to end on the simulated rig: the real driver and dynamixel_sdk against the emulated
servo chains, whose motors the simulator mounted with its own seeded offsets and directions."""

import dataclasses

import numpy as np
import pytest
import yaml

from calibration.calibrated_arm import CalibratedArm
from calibration.files import CalibrationError, calibration_path, load_rig_calibration
from calibration.guides import AutoGuide
from calibration.procedure import calibrate_arm
from drivers.dynamixel.arm import DynamixelArm
from drivers.sim.rig import SimRig
from robot_stack.app.cli import main
from robot_stack.rig import load_rig


@pytest.fixture
def rig_file(sim_rig_spec, tmp_path):
    path = tmp_path / "rig.yaml"
    path.write_text(yaml.safe_dump(sim_rig_spec.model_dump(mode="json"), sort_keys=False))
    return path


def calibrate(rig, sim, arms=None):
    cals = {}
    for name in arms or rig.arms:
        with DynamixelArm.from_rig(rig, name, torque=False) as arm:
            cals[name] = calibrate_arm(arm, AutoGuide(sim), rig.name)
    return cals


def test_auto_calibration_through_the_cli_makes_leader_and_follower_agree(rig_file):
    assert main(["--rig", str(rig_file), "calibrate", "--auto"]) == 0
    rig = load_rig(rig_file)
    cals = load_rig_calibration(rig, rig_file)
    assert set(cals) == set(rig.arms)
    assert (rig_file.parent / "rig.calibration" / "left_leader.yaml").exists()

    rng = np.random.default_rng(3)
    with SimRig(rig, realtime=True, operator=False) as sim:
        for pair in rig.pairs:
            leader = CalibratedArm(DynamixelArm.from_rig(rig, pair.leader), cals[pair.leader]).open()
            follower = CalibratedArm(
                DynamixelArm.from_rig(rig, pair.follower, torque=False), cals[pair.follower]
            ).open()
            try:
                lo, hi = sim.joint_ranges(pair.follower)
                for _ in range(5):
                    q = rng.uniform(lo * 0.9, hi * 0.9)
                    sim.pose_arm(pair.leader, q)
                    sim.pose_arm(pair.follower, q)
                    np.testing.assert_allclose(leader.read(), q, atol=0.004)
                    np.testing.assert_allclose(follower.read(), q, atol=0.004)
            finally:
                leader.close()
                follower.close()


def test_calibration_finds_the_simulators_mounting(sim_rig_spec):
    rig = sim_rig_spec
    with SimRig(rig, realtime=True, operator=False) as sim:
        cals = calibrate(rig, sim, ["left_follower"])
        truth = sim.truth()["left_follower"]
        for joint in cals["left_follower"].joints:
            for registers in (joint.motor, joint.shadow):
                if registers is None:
                    continue
                # Drive Mode reverse exactly where the motor was mounted turning against the joint.
                assert (registers.drive_mode & 1) == (truth[registers.id]["direction"] < 0)
        # A shadow holds the same Present Position as its primary: it can obey the primary's goals.
        with DynamixelArm.from_rig(rig, "left_follower", torque=False) as arm:
            for primary, shadow in ((2, 3), (4, 5)):
                assert (
                    abs(arm.bus.read(primary, "present_position") - arm.bus.read(shadow, "present_position"))
                    <= 1
                )


def test_calibration_survives_a_simulator_restart_and_is_checked_on_connect(sim_rig_spec):
    rig = sim_rig_spec
    with SimRig(rig, realtime=True, operator=False) as sim:
        cal = calibrate(rig, sim, ["left_leader"])["left_leader"]
    with SimRig(rig, realtime=True, operator=False):  # motors keep their EEPROM through a power cycle
        with CalibratedArm(DynamixelArm.from_rig(rig, "left_leader"), cal) as arm:
            assert np.abs(arm.read()[:6] - [0.0, -0.96, 1.16, 0.0, -0.3, 0.0]).max() < 0.01


def test_connect_refuses_a_recalibrated_motor(sim_rig_spec):
    rig = sim_rig_spec
    with SimRig(rig, realtime=True, operator=False) as sim:
        cal = calibrate(rig, sim, ["left_follower"])["left_follower"]
        sim.chains["left_follower"].motor(4).set("homing_offset", 900)
        with pytest.raises(CalibrationError, match=r"motor 4 \(left_follower/elbow\) has homing offset 900"):
            CalibratedArm(DynamixelArm.from_rig(rig, "left_follower"), cal).open()


def test_connect_refuses_swapped_motors(sim_rig_spec):
    rig = sim_rig_spec
    with SimRig(rig, realtime=True, operator=False) as sim:
        cal = calibrate(rig, sim, ["left_follower"])["left_follower"]
        # forearm_roll and wrist_angle (same model) swapped places: each brings its own EEPROM.
        chain = sim.chains["left_follower"]
        a, b = chain.motor(6), chain.motor(7)
        held = {m: (m.get("homing_offset"), m.get("drive_mode")) for m in (a, b)}
        for m, other in ((a, b), (b, a)):
            m.set("homing_offset", held[other][0])
            m.set("drive_mode", held[other][1])
        if held[a] == held[b]:
            pytest.skip("both motors happen to hold the same offsets")
        with pytest.raises(CalibrationError) as err:
            CalibratedArm(DynamixelArm.from_rig(rig, "left_follower"), cal).open()
        assert (
            "left_follower/forearm_roll" in err.value.message
            and "left_follower/wrist_angle" in err.value.message
        )


def test_multi_turn_wrap_after_a_power_cycle_is_refused(sim_rig_spec):
    rig = sim_rig_spec
    sim = SimRig(rig, realtime=True, operator=False)
    # Mount the left leader's waist so its travel crosses the encoder seam at about +1.6 rad.
    mounts = sim.assemblies["left_leader"].mounts
    mounts[1] = dataclasses.replace(mounts[1], zero_raw=3050.0, direction=1)
    with sim:
        cal = calibrate(rig, sim, ["left_leader"])["left_leader"]
        assert cal.joint("waist").crosses_encoder_seam
        assert any("waist" in note and "seam" in note for note in cal.notes)
        pose = np.array([2.2, -0.96, 1.16, 0.0, -0.3, 0.0, 0.5])
        sim.pose_arm("left_leader", pose)
        with DynamixelArm.from_rig(rig, "left_leader") as arm:
            arm.read()  # the hand moves the shaft on a read
        sim.chains["left_leader"].motor(1).power_on()  # the encoder is re-read past its seam
        with pytest.raises(
            CalibrationError, match=r"left_leader/waist \(motor 1\) reads -234°, 1 full turn outside"
        ):
            CalibratedArm(DynamixelArm.from_rig(rig, "left_leader"), cal).open()


def test_a_pose_not_held_is_caught(sim_rig_spec):
    rig = sim_rig_spec

    class Sloppy(AutoGuide):
        def place(self, arm, step, instruction, pose, targets):
            if step == "rotated":
                pose = pose.copy()
                pose[2] -= 0.6  # the elbow only part of the way
            super().place(arm, step, instruction, pose, targets)

    with SimRig(rig, realtime=True, operator=False) as sim:
        with DynamixelArm.from_rig(rig, "right_leader", torque=False) as arm:
            with pytest.raises(
                CalibrationError, match=r"right_leader/elbow \(motor 4\) turned 56° .* 90° apart"
            ):
                calibrate_arm(arm, Sloppy(sim), rig.name)


def test_a_shadow_declared_the_wrong_way_is_named(sim_rig_spec):
    data = sim_rig_spec.model_dump()
    data["arms"]["left_follower"]["motors"]["shoulder"]["shadow"]["reverse"] = False
    rig = type(sim_rig_spec).model_validate(data)
    sim = SimRig(sim_rig_spec, realtime=True, operator=False)  # mounted as the original rig says
    with sim, DynamixelArm.from_rig(rig, "left_follower", torque=False) as arm:
        with pytest.raises(CalibrationError, match="shadow motor 3 turns opposite to its primary 2"):
            calibrate_arm(arm, AutoGuide(sim), rig.name)


def test_missing_and_foreign_calibrations_are_named(rig_file, tmp_path):
    rig = load_rig(rig_file)
    with pytest.raises(CalibrationError, match="not calibrated: left_leader, right_leader"):
        load_rig_calibration(rig, rig_file, ["left_leader", "right_leader"])
    path = calibration_path(rig, rig_file, "left_leader")
    path.parent.mkdir()
    path.write_text("format: something-else\n")
    with pytest.raises(CalibrationError, match="not a calibration file this version reads"):
        load_rig_calibration(rig, rig_file, ["left_leader"])


def test_auto_needs_the_simulated_rig(tmp_path, repo_root, capsys):
    assert main(["--rig", str(repo_root / "examples/aloha.yaml"), "calibrate", "--auto"]) == 1
    assert "--auto needs the simulated rig" in capsys.readouterr().err
