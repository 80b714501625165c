"""Training at the `test` preset on synthetic episodes: loss falls, checkpoints are plain tensors + JSON,
best/last/resume behave, and a run stops on its time budget."""

import json

import pytest
import torch

from policies.checkpoint import load_checkpoint
from policies.presets import make_config
from policies.synthetic import synthetic_set
from policies.trainer import train
from robot_stack.errors import RobotStackError

torch.set_num_threads(1)


def records(run, kind):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


@pytest.fixture(scope="module")
def data():
    return synthetic_set(episodes=4, seed=0)


@pytest.mark.parametrize("policy", ["act", "diffusion", "flow"])
def test_each_policy_learns_at_the_test_preset(policy, data, tmp_path):
    result = train(make_config(policy, "test"), data, tmp_path, show_progress=False)
    assert result.step == 30 and result.stopped == "finished"
    losses = [r["loss"] for r in records(tmp_path, "train")]
    assert len(losses) == 30
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.85 * first, f"{policy}: loss {first:.3f} → {last:.3f}"
    train_record = records(tmp_path, "train")[-1]
    assert {"lr", "grad_norm", "samples_per_s", "eta_s", "epoch"} <= set(train_record)
    assert train_record["epoch"] == 0  # 30 batches of 4 do not finish one pass over the 4 episodes
    assert [r["step"] for r in records(tmp_path, "val")] == [10, 20, 30]
    assert (tmp_path / "best" / "weights.pt").exists() and (tmp_path / "last" / "train_state.pt").exists()


def test_checkpoint_is_json_and_plain_tensors(data, tmp_path):
    train(make_config("diffusion", "test", ["train.steps=3"]), data, tmp_path, show_progress=False)
    meta = json.loads((tmp_path / "last" / "policy.json").read_text())
    assert meta["format"] == "robot_stack.policy" and meta["policy"] == "diffusion" and meta["step"] == 3
    assert meta["spec"]["cameras"] == ["cam_high", "cam_wrist"]
    assert meta["spec"]["arms"] == {
        "left_follower": ["waist", "gripper"],
        "right_follower": ["waist", "gripper"],
    }
    assert meta["normalization"]["mode"] == "minmax" and len(meta["normalization"]["action"]["min"]) == 4
    # loadable without unpickling arbitrary objects
    weights = torch.load(tmp_path / "last" / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in weights.values())
    state = torch.load(tmp_path / "last" / "train_state.pt", weights_only=True)
    assert state["step"] == 3 and "ema" in state and "optimizer" in state
    ckpt = load_checkpoint(tmp_path)
    assert ckpt.path.name == "best" and ckpt.config.policy == "diffusion"


def test_resume_continues_from_last(data, tmp_path):
    config = make_config("act", "test", ["train.steps=6", "train.checkpoint_every=3", "train.val_every=3"])
    train(config, data, tmp_path, show_progress=False)
    saved = torch.load(tmp_path / "last" / "train_state.pt", weights_only=True)
    with pytest.raises(RobotStackError, match="already holds a training run"):
        train(config, data, tmp_path, show_progress=False)
    longer = make_config("act", "test", ["train.steps=9", "train.checkpoint_every=3", "train.val_every=3"])
    result = train(longer, data, tmp_path, resume=True, show_progress=False)
    assert result.step == 9
    starts = records(tmp_path, "start")
    assert [s["step"] for s in starts] == [0, 6]
    assert [r["step"] for r in records(tmp_path, "train")] == list(range(1, 10))
    resumed = torch.load(tmp_path / "last" / "train_state.pt", weights_only=True)
    assert resumed["step"] == 9 and saved["optimizer"]["state"] and resumed["optimizer"]["state"]
    other = make_config("act", "test", ["train.steps=12", "act.hidden_dim=64"])
    with pytest.raises(RobotStackError, match="act settings differ"):
        train(other, data, tmp_path, resume=True, show_progress=False)


def test_stops_on_the_time_budget_with_a_checkpoint(data, tmp_path):
    config = make_config("flow", "test", ["train.steps=1000", "train.time_budget_min=0.0001"])
    result = train(config, data, tmp_path, show_progress=False)
    assert result.stopped == "time budget" and result.step < 1000
    assert load_checkpoint(tmp_path / "last").step == result.step


def test_unknown_camera_in_config_is_refused(data, tmp_path):
    with pytest.raises(RobotStackError, match="cam_top"):
        train(make_config("act", "test", ['data.cameras=["cam_top"]']), data, tmp_path, show_progress=False)
