"""Training straight from the zarr episode store through the policies' adapter."""

from pathlib import Path

import numpy as np
import pytest
import torch

from policies.inference import Policy
from policies.presets import make_config
from policies.store_view import open_store
from policies.trainer import train
from robot_stack.errors import RobotStackError
from robot_stack.rig import parse_rig
from robot_stack.store import Dataset

torch.set_num_threads(1)

RIG = """
name: tiny
backend: sim
control_rate_hz: 50
arms:
  leader:   {role: leader, side: left, port: /tmp/tiny_leader, motors: {waist: {id: 1, model: xl430-w250}, gripper: {id: 2, model: xl430-w250}}}
  follower: {role: follower, side: left, port: /tmp/tiny_follower, motors: {waist: {id: 1, model: xm430-w350}, gripper: {id: 2, model: xm430-w350}}}
pairs:
  - {leader: leader, follower: follower}
cameras:
  top: {driver: sim, device: top, width: 40, height: 32, fps: 25}
"""


def record(dataset: Dataset, seed: int, ticks: int = 30, status: str = "complete"):
    rng = np.random.default_rng(seed)
    writer = dataset.begin_episode("reach", encode_threads=1)
    target = rng.uniform(-1, 1, 2)
    for i in range(ticks):
        t = 100.0 + i / 50
        if i % 2 == 1:  # a 25 fps camera: the first tick has no frame yet
            frame = np.full((32, 40, 3), 40, np.uint8)
            frame[:, int((target[0] + 1) * 15) : int((target[0] + 1) * 15) + 8] = 220
            writer.add_frame("top", t - 0.001, frame)
        q = target * i / ticks
        writer.add_tick(t, q, q + target / ticks)
    return writer.finish(status)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "demos.zarr"
    rig = parse_rig(RIG, Path("tiny.yaml"))
    with Dataset.create(path, rig) as dataset:
        for seed in range(3):
            record(dataset, seed)
        record(dataset, 9, status="aborted")
    return path


def test_store_episodes_follow_the_protocol(store):
    data = open_store(store)
    assert [e.name for e in data.episodes] == ["000000", "000001", "000002"]  # the aborted one is left out
    assert data.arms == {"follower": ["waist", "gripper"]} and data.cameras == ["top"]
    episode = data.episodes[0]
    assert episode.observation.shape == (30, 2) and episode.frame_index("top")[0] == -1
    assert episode.frame("top", 0).shape == (32, 40, 3)
    assert len(open_store(store, episodes=[3]).episodes) == 1  # named explicitly: used whatever its status


def test_train_and_predict_from_the_store(store, tmp_path):
    data = open_store(store)
    result = train(make_config("act", "test", ["train.steps=3"]), data, tmp_path, show_progress=False)
    assert result.step == 3
    policy = Policy.load(tmp_path)
    chunk = policy.predict(
        {
            "images": {"top": data.episodes[0].frame("top", 3)},
            "state": data.episodes[0].observation[5],
            "t": 0.0,
        }
    )
    assert chunk.actions.shape == (8, 2) and np.isfinite(chunk.actions).all()


def test_an_empty_selection_is_refused(store):
    with pytest.raises(RobotStackError, match="no episode to train on"):
        open_store(store, statuses=("never",))
