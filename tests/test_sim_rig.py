"""The simulated rig through the real driver stack: emulated chains on ports, physics behind them."""

import time

import numpy as np
import pytest

from drivers.dynamixel.arm import DynamixelArm
from drivers.sim.rig import SimRig
from robot_stack.errors import RobotStackError
from robot_stack.rig import load_rig


@pytest.fixture
def rig(sim_rig_spec):
    return sim_rig_spec


def test_follower_driven_to_a_pose_through_the_driver_and_read_back(rig):
    with SimRig(rig, realtime=False, operator=False) as sim:
        truth = sim.mounting()
        target = np.array([0.3, -0.5, 0.6, 0.2, -0.4, 0.5, 0.6])
        with DynamixelArm.from_rig(rig, "left_follower") as arm:
            assert arm.read_mode == "fast_sync_read"
            arm.write_goal(truth.raw("left_follower", target))
            for _ in range(100):  # 2 s of sim time
                sim.clock.advance(0.02)
            read_back = truth.values("left_follower", arm.read().positions)
        physics = sim.scene.follower_joint_positions("left")
    assert np.allclose(read_back[:6], target[:6], atol=0.03), read_back
    assert np.allclose(physics[:6], target[:6], atol=0.03), physics
    assert abs(read_back[6] - physics[6]) < 0.01  # the gripper reports what the physics does
    # raw ticks are the mounting's, not the joint's: calibration has work to do
    mounts = sim.truth()["left_follower"]
    assert len({m["direction"] for m in mounts.values()}) == 2, "every motor mounted the same way"


def test_scripted_operator_through_leader_and_follower_servos_completes_transfer_cube(rig):
    with SimRig(rig, task="transfer_cube", seed=3, realtime=False) as sim:
        truth = sim.mounting()
        arms = {name: DynamixelArm.from_rig(rig, name).open() for name in rig.arms}
        try:
            assert not arms["left_leader"].torque_enabled and arms["left_follower"].torque_enabled
            ticks = int((sim.operator.duration + 1.0) / 0.02)
            for _ in range(ticks):
                for side in ("left", "right"):
                    q = truth.values(f"{side}_leader", arms[f"{side}_leader"].read().positions)
                    arms[f"{side}_follower"].write_goal(truth.raw(f"{side}_follower", q))
                sim.clock.advance(0.02)
        finally:
            for arm in arms.values():
                arm.close()
        assert sim.success(), sim.status()


def test_idle_followers_do_not_succeed(rig):
    with SimRig(rig, realtime=False, operator=False) as sim:
        for _ in range(50):
            sim.clock.advance(0.02)
        assert not sim.success()


def test_torque_on_leader_follows_its_goal(rig):
    with SimRig(rig, realtime=False, operator=False) as sim:
        truth = sim.mounting()
        with DynamixelArm.from_rig(rig, "right_leader") as leader:
            leader.set_torque(True)
            goal = np.array([0.2, -0.7, 0.9, 0.0, -0.2, 0.1, 0.5])
            leader.write_goal(truth.raw("right_leader", goal))
            deadline = 50
            while deadline and not np.allclose(
                truth.values("right_leader", leader.read().positions), goal, atol=0.01
            ):
                sim.clock.advance(0.05)
                time.sleep(0.02)  # the ideal servo moves in wall time
                deadline -= 1
            assert deadline, "the torque-on leader never reached its goal"


def test_a_port_already_served_is_refused_clearly(rig):
    with SimRig(rig, realtime=False, operator=False):
        with pytest.raises(RobotStackError) as info:
            SimRig(rig, realtime=False, operator=False).open()
    assert "cannot serve arm 'left_leader'" in info.value.message
    assert "is taken" in info.value.message
    assert "another `robot-stack sim`" in info.value.hint


def test_a_hardware_rig_is_not_simulated(repo_root):
    with pytest.raises(RobotStackError, match="backend 'hardware'"):
        SimRig(load_rig(repo_root / "examples/aloha.yaml"))


def test_unknown_task_and_bad_seed(rig):
    with pytest.raises(RobotStackError, match="unknown simulation task .juggling."):
        SimRig(rig, task="juggling", realtime=False).open()
    with pytest.raises(RobotStackError):
        SimRig(rig, seed="three", realtime=False)


def test_realtime_rig_advances_physics_with_the_wall_clock(rig):
    with SimRig(rig, realtime=True, operator=False) as sim:
        time.sleep(0.5)
        assert 0.3 < sim.scene.time < 1.0


def test_the_rig_file_chooses_how_the_scripted_operator_demonstrates(rig):
    steady = rig.model_copy(update={"sim": rig.sim.model_copy(update={"operator_style": "steady"})})
    with SimRig(steady, task="transfer_cube", seed=3, realtime=False) as sim:
        assert sim.operator.style.tremor_rad == 0 and sim.operator.hesitations == 0
        sim.reset(seed=4)  # a new take keeps the style
        assert sim.operator.style.tremor_rad == 0
    with SimRig(rig, task="transfer_cube", seed=3, realtime=False) as sim:
        assert sim.operator.style.tremor_rad > 0


def test_physics_lag_is_measured_per_episode_in_real_time_only(sim_rig_spec):
    with SimRig(sim_rig_spec, realtime=True, operator=False) as sim:
        time.sleep(0.5)
        sim.scene.lock.acquire()  # physics cannot step for 60 ms: a lag of at least that much
        time.sleep(0.06)
        sim.scene.lock.release()
        time.sleep(0.2)
        lag = sim.status()["physics_lag_ms"]
        assert 0 < lag["p50"] <= lag["p99"] <= lag["max"] and lag["max"] >= 55.0, lag
        assert lag["p50"] < 10.0, lag  # a step every 4 ms, the rest of the time
        sim.reset(2)
        time.sleep(0.3)
        assert sim.status()["physics_lag_ms"]["max"] < 55.0  # a new episode, a new count
    with SimRig(sim_rig_spec, realtime=False, operator=False) as sim:
        assert sim.status()["physics_lag_ms"] is None  # lockstep time never lags
