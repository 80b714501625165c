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


@pytest.mark.parametrize("task", sorted(TASKS))
def test_a_steady_operator_does_a_layout_one_way(scenes, task):
    """`steady`: no pauses or tremor, and one strategy for one kind of layout, whatever the seed; the
    human style, on the same seeds, varies its strategy and its tempo."""
    seeds = range(8)
    steady = [ScriptedOperator(task, s, model=scenes[task].model, style="steady") for s in seeds]
    human = [ScriptedOperator(task, s, model=scenes[task].model) for s in seeds]
    assert all(op.hesitations == 0 and op.style.tremor_rad == 0 and op.style.tempo == 1 for op in steady)
    assert len({op.style.tempo for op in human}) == len(human)
    approaches = {op.strategy["approach"] for op in steady}
    assert len(approaches) == 1 or task.startswith("transfer_cube"), approaches  # insertion: one way
    # transfer_cube picks with the arm on the cube's side (either near the middle): the rule is the
    # layout's, so the same band of cube positions always gets the same giver (a turned cube can put
    # the first choice out of reach, and the planner then takes the next)
    if task == "transfer_cube":
        band = {}
        for op in steady:
            x = op.layout["box"].position[0]
            key = "left" if x < -0.05 else "right" if x > 0.05 else "middle"
            band.setdefault(key, set()).add(op.strategy["giver"])
        assert all(len(givers) == 1 for givers in band.values()), band


def test_steady_demonstrations_succeed(scenes):
    result = run_scripted_episode("transfer_cube", 7, scene=scenes["transfer_cube"], style="steady")
    assert result.success, (result.status, result.strategy)


def test_offsets_reach_the_followers_and_see_the_takes_operator(scenes):
    # how bench/demo_noise.py injects record --noise into a lockstep take
    seen = {}

    def offsets_for(operator):
        seen["operator"] = operator
        return lambda side, t: np.r_[0.05 if side == "left" else 0.0, np.zeros(6)]

    run_scripted_episode("insertion", 0, scene=scenes["insertion"], style="steady", offsets_for=offsets_for)
    operator = seen["operator"]
    assert operator.seed == 0 and operator.steady_spans
    # the operator holds still at the end, so the last targets are its final pose plus the offsets
    for side, waist in (("left", 0.05), ("right", 0.0)):
        expected = operator.target(side, operator.duration)[:6] + np.r_[waist, np.zeros(5)]
        assert np.allclose(scenes["insertion"].follower_targets(side)[:6], expected, atol=1e-9)


def test_operator_rejects_an_unknown_style():
    with pytest.raises(RobotStackError, match="operator style"):
        ScriptedOperator("transfer_cube", 0, style="robotic")
