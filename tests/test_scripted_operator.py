"""The scripted operator does the tasks, through the followers, also late and quantised."""

import numpy as np
import pytest

from drivers.sim.arms import ARM_SIDES
from drivers.sim.episode import run_scripted_episode
from drivers.sim.kinematics import ArmKinematics
from drivers.sim.scene import SimScene
from drivers.sim.scripted_operator import ScriptedOperator
from drivers.sim.task_base import HOME
from drivers.sim.tasks import TASKS
from robot_stack.errors import RobotStackError

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def scenes():
    return {task: SimScene(task, 0) for task in TASKS}


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("seed", SEEDS)
def test_scripted_episode_succeeds(scenes, task, seed):
    result = run_scripted_episode(task, seed, scene=scenes[task])
    assert result.success, (result.status, result.strategy)
    assert 7.0 <= result.duration_s <= 13.0


@pytest.mark.parametrize("task", sorted(TASKS))
def test_late_and_quantised_targets_still_succeed(scenes, task):
    # what leader servos → teleop → follower servos add: a tick or two of lag (not the same on both
    # arms: separate buses) and 4096-tick resolution
    result = run_scripted_episode(
        task,
        3,
        scene=scenes[task],
        delay_s={"left": 0.04, "right": 0.02},
        joint_quantum_rad=np.radians(0.1),
        gripper_quantum=0.002,
    )
    assert result.success, (result.status, result.strategy)


def test_same_seed_same_motion():
    a, b = ScriptedOperator("transfer_cube", 5), ScriptedOperator("transfer_cube", 5)
    assert a.strategy == b.strategy and a.duration == b.duration
    for t in (0.0, 1.3, 4.7, a.duration):
        for side in ARM_SIDES:
            assert np.array_equal(a.target(side, t), b.target(side, t))


@pytest.mark.parametrize(
    "task, keys", [("transfer_cube", ("giver", "approach")), ("insertion", ("pusher", "approach"))]
)
def test_more_than_one_strategy_per_task(task, keys):
    seen = {key: set() for key in keys}
    for seed in range(12):
        strategy = ScriptedOperator(task, seed).strategy
        for key in keys:
            seen[key].add(strategy[key])
    assert all(len(values) >= 2 for values in seen.values()), seen


def test_targets_start_home_and_move_smoothly():
    op = ScriptedOperator("insertion", 4)
    times = np.arange(0.0, op.duration, 0.02)
    for side in ARM_SIDES:
        # the operator leads by the follower's sag under gravity, so the follower settles at home
        sag = ArmKinematics(SimScene("insertion", 4).model, side).sag_compensation(HOME)
        assert 0.001 < np.abs(sag).max() < 0.05
        assert np.allclose(op.target(side, 0.0)[:6] - sag, HOME[:6], atol=0.005)
        q = np.array([op.target(side, t) for t in times])
        assert np.all((q[:, 6] >= 0) & (q[:, 6] <= 1))
        # inside the deploy safety filter's per-tick limit, so demonstrations need no clipping
        assert np.abs(np.diff(q[:, :6], axis=0)).max() < 0.05


def test_operator_rejects_bad_task_and_seed():
    with pytest.raises(RobotStackError, match="unknown simulation task"):
        ScriptedOperator("stack_blocks", 0)
    with pytest.raises(RobotStackError, match="seed"):
        ScriptedOperator("insertion", "zero")
