"""The inference API the deploy runtime uses: load, check against the rig, warm up, predict chunks."""

from pathlib import Path

import numpy as np
import pytest
import torch

from policies.images import prepare_frame
from policies.inference import ActionChunk, Policy
from policies.presets import make_config
from policies.synthetic import synthetic_set
from policies.trainer import train
from robot_stack.errors import RobotStackError
from robot_stack.rig import load_rig

torch.set_num_threads(1)


REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rig():
    return load_rig(REPO / "hardware.yaml")


@pytest.fixture(scope="module")
def rig_data(rig):
    """Synthetic episodes laid out like the simulated rig: its follower joints, two of its cameras."""
    arms = {name: arm.joint_names for name, arm in rig.arms_with_role("follower").items()}
    return synthetic_set(episodes=3, seed=1, arms=arms, cameras=("cam_high", "cam_low"))


@pytest.fixture(scope="module")
def runs(rig_data, tmp_path_factory):
    out = {}
    for policy in ("act", "diffusion"):
        folder = tmp_path_factory.mktemp(policy)
        train(
            make_config(policy, "test", ["train.steps=4", "data.stride=2"]),
            rig_data,
            folder,
            show_progress=False,
        )
        out[policy] = folder
    return out


def observation(data, tick=0, t=10.0):
    ep = data.episodes[0]
    return {
        "images": {c: ep.frame(c, int(ep.frame_index(c)[tick])) for c in ep.cameras},
        "state": ep.observation[tick],
        "t": t,
    }


@pytest.mark.parametrize("policy, length", [("act", 8), ("diffusion", 4)])
def test_predict_returns_a_chunk_in_robot_units(policy, length, runs, rig, rig_data):
    p = Policy.load(runs[policy])
    p.check_rig(rig)
    assert p.warmup(runs=1) > 0
    chunk = p.predict(observation(rig_data))  # frames are 60×80, the policy resizes them to 48×64
    assert chunk.actions.shape == (length, 14) and chunk.actions.dtype == np.float32
    assert np.isfinite(chunk.actions).all()
    assert chunk.t_obs == 10.0 and chunk.dt == pytest.approx(2 / 50)
    lo, hi = p.normalizer.action_stats.min, p.normalizer.action_stats.max
    assert (chunk.actions >= lo - 0.5 * (hi - lo) - 1e-3).all() and (
        chunk.actions <= hi + 0.5 * (hi - lo) + 1e-3
    ).all()


def test_diffusion_keeps_the_committed_prefix(runs, rig_data):
    p = Policy.load(runs["diffusion"], steps=2)
    prefix = rig_data.episodes[0].action[:2]
    chunk = p.predict(observation(rig_data), prefix=prefix)
    assert np.allclose(chunk.actions[:2], prefix, atol=1e-5)
    with pytest.raises(RobotStackError, match="prefix has shape"):
        p.predict(observation(rig_data), prefix=np.zeros((2, 5), np.float32))


def test_act_refuses_a_prefix(runs, rig_data):
    with pytest.raises(RobotStackError, match="ACT cannot take a prefix"):
        Policy.load(runs["act"]).predict(observation(rig_data), prefix=rig_data.episodes[0].action[:2])


def test_observation_history_is_picked_by_time(runs, rig_data):
    p = Policy.load(runs["diffusion"])
    for i in range(5):
        p.predict(observation(rig_data, tick=i, t=i * 0.02))
    picked = p._pick_history(4 * 0.02)
    assert [round(s[0], 3) for s in picked] == [0.04, 0.08]  # n_obs 2, stride 2 ticks at 50 Hz
    p.reset()
    p.predict(observation(rig_data, t=1.0))
    assert [s[0] for s in p._pick_history(1.0)] == [1.0, 1.0]  # history shorter than needed: oldest repeated


def test_a_checkpoint_for_another_rig_is_refused_clearly(runs, rig):
    p = Policy.load(runs["act"])
    one_camera = rig.model_copy(update={"cameras": {"cam_high": rig.cameras["cam_high"]}})
    with pytest.raises(RobotStackError) as err:
        p.check_rig(one_camera)
    assert "cam_low" in str(err.value) and "not on rig" in str(err.value)
    left = rig.arms["left_follower"]
    six = left.model_copy(update={"motors": {k: v for k, v in left.motors.items() if k != "wrist_rotate"}})
    fewer_joints = rig.model_copy(update={"arms": {**rig.arms, "left_follower": six}})
    with pytest.raises(RobotStackError) as err:
        p.check_rig(fewer_joints)
    assert "left_follower" in str(err.value) and "7 joints" in str(err.value) and "6" in str(err.value)


def test_bad_observations_are_refused_by_name(runs, rig_data):
    p = Policy.load(runs["act"])
    obs = observation(rig_data)
    with pytest.raises(RobotStackError, match="cam_low"):
        p.predict({**obs, "images": {"cam_high": obs["images"]["cam_high"]}})
    with pytest.raises(RobotStackError, match=r"expects \(14,\)"):
        p.predict({**obs, "state": np.zeros(12, np.float32)})
    with pytest.raises(RobotStackError, match="uint8"):
        p.predict({**obs, "images": {**obs["images"], "cam_low": np.zeros((48, 64, 3), np.float32)}})


def test_a_camera_region_travels_with_the_checkpoint_and_is_cut_at_inference(rig_data, tmp_path):
    region = [0.25, 0.25, 0.5, 0.5]
    config = make_config("act", "test", ["train.steps=2", f'data.regions={{"cam_low": {region}}}'])
    train(config, rig_data, tmp_path, show_progress=False)
    policy = Policy.load(tmp_path / "last")
    assert policy.spec.regions == {"cam_low": tuple(region)}
    obs = observation(rig_data)
    _, images, _ = policy._check(obs)
    cameras = policy.spec.cameras
    size = policy.spec.image_size
    low = prepare_frame(obs["images"]["cam_low"], size, tuple(region))
    assert np.array_equal(images[cameras.index("cam_low")].permute(1, 2, 0).cpu().numpy(), low)
    high = prepare_frame(obs["images"]["cam_high"], size)  # no region: the whole frame
    assert np.array_equal(images[cameras.index("cam_high")].permute(1, 2, 0).cpu().numpy(), high)


def test_regions_for_cameras_the_policy_does_not_use_are_refused(rig_data, tmp_path):
    config = make_config(
        "act",
        "test",
        ["train.steps=1", 'data.cameras=["cam_high"]', 'data.regions={"cam_low": [0, 0, 1, 1]}'],
    )
    with pytest.raises(RobotStackError, match="data.regions names cam_low"):
        train(config, rig_data, tmp_path, show_progress=False)


def test_load_refuses_what_is_not_a_checkpoint(tmp_path):
    with pytest.raises(RobotStackError, match="not found"):
        Policy.load(tmp_path / "nowhere")
    with pytest.raises(RobotStackError, match="not a policy checkpoint"):
        Policy.load(tmp_path)


def test_chunk_resampling_for_a_faster_loop():
    chunk = ActionChunk(np.array([[0.0], [1.0], [3.0]], np.float32), t_obs=5.0, dt=0.1)
    fine = chunk.resampled(0.02)
    assert len(fine.actions) == 11 and fine.dt == 0.02 and fine.t_obs == 5.0
    assert fine.actions[5, 0] == pytest.approx(1.0) and fine.actions[8, 0] == pytest.approx(2.2)
    assert fine.times[-1] == pytest.approx(5.2)
