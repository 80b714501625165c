"""`robot-stack train` on a small dataset recorded on the simulated rig: each policy learns, a run
resumes, bad input is refused without a traceback, and the same command runs under torchrun."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
import yaml

from robot_stack.app.cli import main as cli
from robot_stack.app.scripted_demos import record_scripted_demos
from robot_stack.rig import RigSpec, load_rig

torch.set_num_threads(1)


def small_camera_rig(repo_root) -> RigSpec:
    """The default sim rig with only its top camera, at 48×64 (the `test` preset's image size)."""
    data = load_rig(repo_root / "hardware.yaml").model_dump(mode="json")
    data["cameras"] = {"cam_high": {**data["cameras"]["cam_high"], "width": 64, "height": 48}}
    return RigSpec.model_validate(data)


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    folder = tmp_path_factory.mktemp("demos")
    rig = small_camera_rig(repo)
    (folder / "rig.yaml").write_text(yaml.safe_dump(rig.model_dump(mode="json"), sort_keys=False))
    # the first 1.2 s of three scripted transfer-cube episodes (the arms start moving at once)
    results = record_scripted_demos(
        rig, folder / "demos.zarr", "transfer_cube", range(3), only_successes=False, max_seconds=1.2
    )
    assert [r.kept for r in results] == [True, True, True]
    return folder / "demos.zarr"


def records(run, kind):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


def train_args(policy, demos, out, *extra):
    return [
        "train",
        "--policy",
        policy,
        "--dataset",
        str(demos),
        "--out",
        str(out),
        "--preset",
        "test",
        *extra,
    ]


def test_recorded_demos_hold_follower_state_and_leader_actions(demos):
    from policies.store_view import open_store

    data = open_store(demos)
    assert len(data.episodes) == 3 and data.cameras == ["cam_high"]
    assert list(data.arms) == ["left_follower", "right_follower"]
    episode = data.episodes[0]
    assert episode.observation.shape == (60, 14) and episode.action.shape == (60, 14)
    assert episode.frame_index("cam_high")[0] == 0  # the first frame is rendered at t = 0
    assert episode.frame("cam_high", 0).shape == (48, 64, 3)
    # the followers trail the leaders they are told to follow
    assert abs(episode.action[30] - episode.observation[30]).max() < 0.3


@pytest.mark.parametrize("policy", ["act", "diffusion", "flow"])
def test_each_policy_trains_from_the_command_line(policy, demos, tmp_path, capsys):
    assert cli(train_args(policy, demos, tmp_path / "run", "--no-progress")) == 0
    losses = [r["loss"] for r in records(tmp_path / "run", "train")]
    assert len(losses) == 30
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    # ε-prediction starts near the noise's variance and falls slowest in 30 steps of a tiny network
    assert last < (0.9 if policy == "diffusion" else 0.8) * first, f"{policy}: loss {first:.3f} → {last:.3f}"
    assert (tmp_path / "run" / "best" / "weights.pt").exists()
    meta = json.loads((tmp_path / "run" / "best" / "policy.json").read_text())
    assert meta["policy"] == policy and meta["spec"]["cameras"] == ["cam_high"]
    assert "finished at step 30" in capsys.readouterr().out


def test_resume_continues_a_run(demos, tmp_path, capsys):
    run = tmp_path / "run"
    short = ("--set", "train.steps=4", "--set", "train.checkpoint_every=2", "--no-progress")
    assert cli(train_args("act", demos, run, *short)) == 0
    assert cli(train_args("act", demos, run, *short)) == 1  # a second start would overwrite it
    err = capsys.readouterr().err
    assert "already holds a training run" in err and "--resume" in err and "Traceback" not in err
    assert cli(train_args("act", demos, run, "--resume", "--set", "train.steps=6", "--no-progress")) == 0
    assert [r["step"] for r in records(run, "start")] == [0, 4]
    assert [r["step"] for r in records(run, "train")] == [1, 2, 3, 4, 5, 6]


def test_bad_input_is_refused_clearly(demos, tmp_path, capsys):
    assert cli(train_args("act", demos, tmp_path / "a", "--set", "act.hidden=3")) == 1
    assert "unknown setting 'act.hidden'" in capsys.readouterr().err
    assert cli(train_args("act", tmp_path / "nowhere.zarr", tmp_path / "b")) == 1
    assert "no dataset at" in capsys.readouterr().err
    assert cli(train_args("act", demos, tmp_path / "c", "--episodes", "3-1")) == 1
    assert "--episodes" in capsys.readouterr().err


def test_the_same_command_runs_under_torchrun(demos, tmp_path):
    """Two CPU processes (gloo): DDP, sharded batches, rank 0 alone writes checkpoints and logs."""
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    assert torchrun, "torchrun ships with torch"
    run = tmp_path / "run"
    cmd = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "robot_stack.app.cli"]
    cmd += train_args(
        "act", demos, run, "--set", "train.steps=3", "--set", "train.device=cpu", "--no-progress"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    start = records(run, "start")
    assert len(start) == 1 and start[0]["world_size"] == 2  # one log, written by rank 0
    assert done.stdout.count("finished at step 3") == 1  # only rank 0 reports
    assert (run / "last" / "train_state.pt").exists()
