"""`robot-stack eval`: lockstep episodes on the simulated rig through the driver stack, JSON results
with a Wilson interval, rollout videos, and a checkpoint for another rig refused clearly."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from policies import ActionChunk, make_config, train
from policies.checkpoint import load_checkpoint
from policies.spec import PolicySpec
from policies.store_view import open_store
from policies.synthetic import synthetic_set
from robot_stack.app.cli import main as cli
from robot_stack.app.evaluation import run_episode, wilson_interval
from robot_stack.app.scripted_demos import record_scripted_demos
from robot_stack.rig import load_rig

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rig_file(tmp_path_factory):
    """The default sim rig with only its top camera, small, written to a rig file."""
    folder = tmp_path_factory.mktemp("eval")
    data = load_rig(REPO / "hardware.yaml").model_dump(mode="json")
    data["cameras"] = {"cam_high": {**data["cameras"]["cam_high"], "width": 64, "height": 48}}
    path = folder / "rig.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def runs(rig_file):
    """Test-preset ACT and Diffusion checkpoints trained a few steps on short scripted demos."""
    folder = rig_file.parent
    rig = load_rig(rig_file)
    record_scripted_demos(
        rig, folder / "demos.zarr", "transfer_cube", range(2), only_successes=False, max_seconds=0.6
    )
    data = open_store(folder / "demos.zarr")
    for policy in ("act", "diffusion"):
        train(make_config(policy, "test", ["train.steps=2"]), data, folder / policy, show_progress=False)
    return folder


def evaluate_cli(rig_file, *args):
    return cli(["--rig", str(rig_file), "eval", *args])


def test_wilson_interval():
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(50, 50) == pytest.approx((0.9287, 1.0), abs=1e-4)


def test_eval_writes_results_and_videos(runs, rig_file, capsys):
    out = runs / "eval_dp"
    args = ["--checkpoint", str(runs / "diffusion"), "--task", "transfer_cube", "--episodes", "2"]
    args += ["--seed-start", "7", "--max-seconds", "0.5", "--videos", "1", "--out", str(out)]
    assert evaluate_cli(rig_file, *args) == 0
    assert "0/2 succeeded" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["policy"] == "diffusion" and results["task"] == "transfer_cube"
    assert results["seeds"] == [7, 8] and results["success_rate"] == 0.0
    assert results["ci95"] == pytest.approx(list(wilson_interval(0, 2)))
    episodes = results["per_episode"]
    assert [e["seed"] for e in episodes] == [7, 8]
    assert all(e["ticks"] == 25 and e["sim_seconds"] == pytest.approx(0.5) for e in episodes)
    assert episodes[0]["plans"] >= 2  # re-plans every chunk
    lines = (out / "episodes.jsonl").read_text().splitlines()
    assert [json.loads(line)["seed"] for line in lines] == [7, 8]
    video = Path(episodes[0]["video"])
    assert episodes[1]["video"] is None and video.exists()
    if video.suffix == ".mp4":
        capture = cv2.VideoCapture(str(video))
        frames = 0
        while capture.read()[0]:
            frames += 1
        assert frames == 15  # 0.5 s of a 30 fps camera
    else:  # no mp4 encoder in this OpenCV build: JPEG frames instead
        assert len(list(video.glob("*.jpg"))) == 15


def test_act_checkpoint_runs_an_episode(runs, rig_file, capsys):
    out = runs / "eval_act"
    args = ["--checkpoint", str(runs / "act"), "--task", "insertion", "--episodes", "1"]
    args += ["--max-seconds", "0.3", "--videos", "0", "--out", str(out)]
    assert evaluate_cli(rig_file, *args) == 0
    assert "trained on episodes of transfer_cube, not insertion" in capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert results["replan_every_ticks"] == 8  # the test preset's ACT chunk
    assert results["per_episode"][0]["plans"] == 2 and not (out / "videos").exists()


def test_ensembled_eval_plans_every_tick(runs, rig_file):
    out = runs / "eval_act_ensemble"
    args = ["--checkpoint", str(runs / "act"), "--task", "transfer_cube", "--episodes", "1"]
    args += ["--max-seconds", "0.3", "--videos", "0", "--ensemble", "0.01", "--out", str(out)]
    assert evaluate_cli(rig_file, *args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["replan_every_ticks"] == 1 and results["ensemble_m"] == 0.01
    assert results["per_episode"][0]["plans"] == results["per_episode"][0]["ticks"] == 15


def test_a_checkpoint_keeps_its_task_and_eval_defaults_to_it(runs, rig_file, capsys):
    assert load_checkpoint(runs / "act").trained_on == {"tasks": ["transfer_cube"], "episodes": 2}
    out = runs / "eval_default_task"
    args = ["--checkpoint", str(runs / "act"), "--episodes", "1", "--max-seconds", "0.1"]
    assert evaluate_cli(rig_file, *args, "--videos", "0", "--out", str(out)) == 0
    assert json.loads((out / "results.json").read_text())["task"] == "transfer_cube"
    assert "warning" not in capsys.readouterr().err


def test_eval_asks_for_the_task_when_the_checkpoint_names_none(tmp_path, capsys):
    data = synthetic_set(episodes=2)  # episodes without a task text
    train(make_config("act", "test", ["train.steps=1"]), data, tmp_path / "run", show_progress=False)
    args = ["--checkpoint", str(tmp_path / "run"), "--episodes", "1", "--out", str(tmp_path / "e")]
    assert cli(["--rig", str(REPO / "hardware.yaml"), "eval", *args]) == 1
    err = capsys.readouterr().err
    assert "which task to evaluate?" in err and "--task" in err and "Traceback" not in err


def test_a_checkpoint_for_another_rig_is_refused(tmp_path, capsys):
    data = synthetic_set(episodes=2)  # two 2-joint arms, cameras cam_high and cam_wrist
    train(make_config("act", "test", ["train.steps=1"]), data, tmp_path / "run", show_progress=False)
    args = ["--checkpoint", str(tmp_path / "run"), "--task", "transfer_cube", "--episodes", "1"]
    assert cli(["--rig", str(REPO / "hardware.yaml"), "eval", *args, "--out", str(tmp_path / "e")]) == 1
    err = capsys.readouterr().err
    assert "does not match rig 'sim-aloha'" in err and "cam_wrist" in err
    assert "expects 2 joints" in err and "Traceback" not in err
    assert not (tmp_path / "e" / "results.json").exists()


def test_bad_eval_input_is_refused(runs, rig_file, capsys):
    base = ["--checkpoint", str(runs / "act"), "--episodes", "1", "--out", str(runs / "bad")]
    assert evaluate_cli(rig_file, *base, "--task", "stacking") == 1
    assert "unknown simulation task 'stacking'" in capsys.readouterr().err
    real = REPO / "examples" / "aloha.yaml"
    assert cli(["--rig", str(real), "eval", *base, "--task", "transfer_cube"]) == 1
    assert "evaluation runs on the simulated rig" in capsys.readouterr().err
    assert evaluate_cli(rig_file, *base, "--task", "transfer_cube", "--ensemble", "nan") == 1
    assert "--ensemble nan is not a number" in capsys.readouterr().err
    assert evaluate_cli(rig_file, *base, "--task", "transfer_cube", "--latency-ticks", "-2") == 1
    assert "--latency-ticks -2 is negative" in capsys.readouterr().err
    assert evaluate_cli(rig_file, *base, "--task", "transfer_cube", "--image-lag-ticks", "-1") == 1
    assert "--image-lag-ticks -1 is negative" in capsys.readouterr().err


class ScriptedPolicy:
    """Plays the scripted operator's leader targets as `chunk`-action chunks: evaluation's loop
    (follower order, joint mapping, timing, success check) must then do what teleoperation does."""

    def __init__(self, task, seed, rig, chunk=1):
        from drivers.sim.scripted_operator import ScriptedOperator

        self.operator = ScriptedOperator(task, seed)
        followers = {n: a.joint_names for n, a in rig.arms.items() if a.role == "follower"}
        self.sides = [rig.arms[n].side for n in followers]
        self.spec = PolicySpec(
            cameras=["cam_high"],
            image_size=(48, 64),
            crop_size=(48, 64),
            arms=followers,
            action_dim=14,
            control_rate_hz=50,
        )
        self.chunk_length, self.n_obs_steps = chunk, 1

    def reset(self):
        pass

    def predict(self, observation):
        assert observation["images"]["cam_high"].shape == (48, 64, 3)
        assert observation["state"].shape == (14,) and np.isfinite(observation["state"]).all()
        t = observation["t"]
        actions = [
            np.concatenate([self.operator.target(side, t + i * 0.02) for side in self.sides])
            for i in range(self.chunk_length)
        ]
        return ActionChunk(np.array(actions, np.float32), t, 0.02)


def test_the_rollout_loop_reproduces_a_scripted_success(rig_file, tmp_path):
    from drivers.sim.rig import rig_with_ports_in

    rig = rig_with_ports_in(load_rig(rig_file), tmp_path)
    policy = ScriptedPolicy("transfer_cube", 0, rig)
    result = run_episode(policy, rig, "transfer_cube", 0, max_seconds=15.0, replan_every=1)
    assert result.success, result
    assert result.success_time_s < policy.operator.duration + 0.5
    assert result.plans == result.ticks
    stages = [stage for _, stage in result.stages]  # the way there, each stage once per change
    assert stages[-1] == "transferred" and "lifted" in stages, result.stages
    assert all(a != b for a, b in zip(stages, stages[1:], strict=False))


def test_temporal_ensembling_of_overlapping_chunks_reproduces_a_scripted_success(rig_file, tmp_path):
    """Up to twenty overlapping 20-action chunks blended at every tick through the deploy runtime's
    ensembler: evaluation's ensembling path must still grasp and hand the cube over."""
    from drivers.sim.rig import rig_with_ports_in

    rig = rig_with_ports_in(load_rig(rig_file), tmp_path)
    policy = ScriptedPolicy("transfer_cube", 0, rig, chunk=20)
    result = run_episode(policy, rig, "transfer_cube", 0, max_seconds=15.0, replan_every=1, ensemble_m=0.01)
    assert result.success, result
    assert result.success_time_s < policy.operator.duration + 0.5


def test_a_planner_latency_in_lockstep_skips_the_actions_already_past(rig_file, tmp_path):
    """20-action chunks planned from observations 15 ticks old, a plan every 5 ticks (the actions each
    has left): the plan is time-indexed, so with the 15 stale actions skipped it lands when it would
    have without latency; run from action 0 instead, everything would happen 0.3 s late."""
    from drivers.sim.rig import rig_with_ports_in

    times = {}
    for latency in (0, 15):
        rig = rig_with_ports_in(load_rig(rig_file), tmp_path / str(latency))
        policy = ScriptedPolicy("transfer_cube", 0, rig, chunk=20)
        result = run_episode(
            policy, rig, "transfer_cube", 0, max_seconds=15.0, replan_every=5, latency_ticks=latency
        )
        assert result.success, result
        times[latency] = result.success_time_s
    assert abs(times[15] - times[0]) < 0.1, times


def test_a_planner_latency_does_not_change_how_often_it_plans(rig_file, tmp_path):
    """Real time's pattern: a plan every 3 ticks, each from an observation 4 ticks old."""
    from drivers.sim.rig import rig_with_ports_in

    rig = rig_with_ports_in(load_rig(rig_file), tmp_path)
    policy = ScriptedPolicy("transfer_cube", 0, rig, chunk=20)
    result = run_episode(
        policy, rig, "transfer_cube", 0, max_seconds=2.0, replan_every=3, ensemble_m=0.01, latency_ticks=4
    )
    assert result.ticks == 100 and result.plans == 34, result


class WatchingPolicy(ScriptedPolicy):
    """The scripted plan (so the scene moves the same way whatever it is shown), noting what it saw."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def predict(self, observation):
        self.seen.append(
            (observation["t"], observation["state"].copy(), observation["images"]["cam_high"].copy())
        )
        return super().predict(observation)


def test_an_image_lag_pairs_the_joint_state_with_an_older_frame(rig_file, tmp_path):
    from drivers.sim.rig import rig_with_ports_in

    seen = {}
    for lag in (0, 3):
        rig = rig_with_ports_in(load_rig(rig_file), tmp_path / str(lag))
        policy = WatchingPolicy("transfer_cube", 0, rig)
        run_episode(policy, rig, "transfer_cube", 0, max_seconds=2.0, replan_every=1, image_lag_ticks=lag)
        seen[lag] = policy.seen
    assert len(seen[0]) == len(seen[3]) == 100
    for (t0, state0, _), (t3, state3, _) in zip(seen[0], seen[3], strict=True):
        assert t0 == t3 and np.array_equal(state0, state3)  # the joints are the tick's own
    changed = [k for k in range(1, 100) if not np.array_equal(seen[0][k][2], seen[0][k - 1][2])]
    assert len(changed) > 20  # the arms move in view, so a frame tells its tick
    for k in range(3, 100):
        assert np.array_equal(seen[3][k][2], seen[0][k - 3][2]), k


def test_a_phase_moves_the_planning_pattern_against_the_scene(rig_file, tmp_path):
    """The first plan at tick 0, the next at the phase, then every `replan_every` ticks."""
    from drivers.sim.rig import rig_with_ports_in

    planned = {}
    for phase in (0, 2):
        rig = rig_with_ports_in(load_rig(rig_file), tmp_path / str(phase))
        policy = WatchingPolicy("transfer_cube", 0, rig, chunk=20)
        result = run_episode(
            policy,
            rig,
            "transfer_cube",
            0,
            max_seconds=0.5,
            replan_every=5,
            ensemble_m=0.01,
            phase_ticks=phase,
        )
        planned[phase] = [round(t * 50) for t, _, _ in policy.seen]
        assert result.plans == len(planned[phase])
    assert planned[0] == [0, 5, 10, 15, 20]
    assert planned[2] == [0, 2, 7, 12, 17, 22]
    with pytest.raises(ValueError, match="phase_ticks 5"):
        run_episode(policy, rig, "transfer_cube", 0, max_seconds=0.1, replan_every=5, phase_ticks=5)


class LungingPolicy(WatchingPolicy):
    """Asks every joint but the grippers to be 0.5 rad from the scripted plan at once."""

    def predict(self, observation):
        chunk = super().predict(observation)
        lunge = np.where(np.arange(14) % 7 == 6, 0.0, 0.5).astype(np.float32)
        return ActionChunk(chunk.actions + lunge, chunk.t_obs, chunk.dt)


def test_a_step_limited_rollout_moves_no_joint_faster_than_the_runtime_would(rig_file, tmp_path):
    from drivers.sim.rig import rig_with_ports_in

    fastest, limited_ticks = {}, {}
    for limit in (True, False):
        rig = rig_with_ports_in(load_rig(rig_file), tmp_path / str(limit))
        policy = LungingPolicy("transfer_cube", 0, rig, chunk=10)
        result = run_episode(
            policy, rig, "transfer_cube", 0, max_seconds=0.4, replan_every=1, step_limit=limit
        )
        states = np.array([state for _, state, _ in policy.seen])
        arm_steps = np.abs(np.diff(states, axis=0))[:, np.arange(14) % 7 != 6]
        fastest[limit], limited_ticks[limit] = arm_steps.max(), result.step_limited_ticks
    assert limited_ticks[True] >= 10 and limited_ticks[False] is None  # 0.5 rad at 0.05 a tick
    # the servos lag and catch up, so a reading can move more than one command step (0.11 rad
    # measured against 0.6 without the limit)
    assert fastest[True] < 0.3 * fastest[False], fastest


def test_results_never_go_inside_a_checkpoint_folder(tmp_path):
    from robot_stack.app.commands.eval_cmd import default_out

    (tmp_path / "run" / "last").mkdir(parents=True)
    (tmp_path / "run" / "last" / "policy.json").write_text("{}")
    assert default_out(tmp_path / "run", "insertion") == tmp_path / "run" / "eval_insertion"
    assert default_out(tmp_path / "run" / "last", "insertion") == tmp_path / "run" / "eval_insertion_last"
