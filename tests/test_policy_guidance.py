"""Real-time chunking's soft guidance: the new chunk stays close to the plan being executed."""

import numpy as np
import pytest
import torch

from policies.ddpm import DDPM
from policies.flow import TIME_SCALE, FlowMatching
from policies.guidance import Guidance, soft_mask
from policies.inference import Policy
from policies.presets import make_config
from policies.synthetic import synthetic_set
from policies.trainer import train
from robot_stack.errors import RobotStackError

torch.set_num_threads(1)
SPREAD = 0.5  # toy data: every coordinate N(0, SPREAD²), so the exact denoisers are known


def toy_velocity(x, t):
    tau = float(t[0]) / TIME_SCALE
    mean = tau * SPREAD**2 / (tau**2 * SPREAD**2 + (1 - tau) ** 2) * x  # E[x1 | x_τ]
    return (mean - x) / (1 - tau)


def toy_denoiser(process):
    def eps(x, level):
        ab = process.alpha_bars[level[0]]
        return (1 - ab).sqrt() * x / (ab * SPREAD**2 + 1 - ab)  # E[ε | x_t]

    return eps


def test_soft_mask_is_rtcs():
    w = soft_mask(horizon=12, start=1, frozen=2, overlap=7)[0, :, 0]
    assert w[0] == 0 and w[1] == 1 and w[2] == 1  # before start: free; frozen prefix: 1
    soft = w[3:8]
    assert (soft > 0).all() and (soft < 1).all() and (soft[1:] < soft[:-1]).all()
    c = 5 / 6  # position i = 2 of the overlap: c = (7 − 2) / (7 − 2 + 1)
    assert float(soft[0]) == pytest.approx(c * (np.exp(c) - 1) / (np.e - 1), rel=1e-5)
    assert (w[8:] == 0).all()
    with pytest.raises(ValueError):
        soft_mask(horizon=4, start=1, frozen=0, overlap=4)


@pytest.mark.parametrize("sampler", ["flow", "ddim"])
def test_guidance_pulls_weighted_positions_to_the_plan_and_leaves_free_ones(sampler):
    shape = (64, 8, 2)
    weights = soft_mask(horizon=8, start=0, frozen=2, overlap=6)
    target = torch.full(shape, 0.8)
    guide = Guidance(target, weights, max_weight=5.0)
    if sampler == "flow":
        process, fn, steps = FlowMatching(clip_sample=None), toy_velocity, 10
    else:
        process = DDPM(train_steps=100, clip_sample=None)
        fn, steps = toy_denoiser(process), 10

    def run(g):
        return process.sample(
            fn, shape, steps, torch.device("cpu"), torch.Generator().manual_seed(0), guide=g
        )

    free, guided = run(None), run(guide)
    error_free = (free - target).abs().mean(dim=(0, 2))
    error_guided = (guided - target).abs().mean(dim=(0, 2))
    assert (error_guided[:2] < 0.25 * error_free[:2]).all()  # frozen weight 1: pulled all the way, nearly
    assert (error_guided[2:6] < error_free[2:6]).all()  # soft weights: pulled part of the way
    assert torch.allclose(
        guided[:, 6:], free[:, 6:], atol=1e-5
    )  # weight 0, independent coordinates: untouched


@pytest.fixture(scope="module")
def diffusion_policy(tmp_path_factory):
    data = synthetic_set(episodes=2, seed=1, cameras=("cam_high",), frame_size=(24, 32))
    folder = tmp_path_factory.mktemp("flow")
    train(make_config("flow", "test", ["train.steps=2"]), data, folder, show_progress=False)
    ep = data.episodes[0]
    observation = {"images": {"cam_high": ep.frame("cam_high", 0)}, "state": ep.observation[0], "t": 1.0}
    return folder, observation


def test_policy_predict_with_the_previous_plan(diffusion_policy):
    folder, observation = diffusion_policy
    plain = Policy.load(folder).predict(observation)
    previous = plain.actions + 0.5  # a plan the unguided sample is far from
    guided = Policy.load(folder).predict(observation, prefix=previous[:1], previous=previous)
    assert np.array_equal(guided.actions[0], previous[0])  # the committed action stays bit-exact
    assert np.abs(guided.actions[1:] - previous[1:]).mean() < np.abs(plain.actions[1:] - previous[1:]).mean()
    with pytest.raises(RobotStackError, match="previous has shape"):
        Policy.load(folder).predict(observation, prefix=previous[:2], previous=previous[:1])
    with pytest.raises(RobotStackError, match="previous contains NaN"):
        Policy.load(folder).predict(observation, previous=np.full_like(previous, np.nan))
