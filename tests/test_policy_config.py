"""Policy configs: every preset builds, the paper preset carries the published figures, overrides are checked."""

import pytest

from policies.config import PolicyConfig
from policies.presets import POLICIES, PRESETS, apply_overrides, make_config
from robot_stack.errors import RobotStackError


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("policy", POLICIES)
def test_every_preset_builds_and_round_trips_through_json(policy, preset):
    config = make_config(policy, preset)
    assert config.policy == policy and config.preset == preset
    assert PolicyConfig.model_validate_json(config.model_dump_json()) == config


def test_paper_act_is_the_published_recipe():
    c = make_config("act", "paper")
    a = c.act
    assert (a.chunk_size, a.hidden_dim, a.enc_layers, a.dec_layers, a.latent_dim, a.kl_weight) == (
        100,
        512,
        4,
        7,
        32,
        10.0,
    )
    assert (c.train.lr, c.train.batch_size, c.backbone.width) == (1e-5, 8, 64)


@pytest.mark.parametrize("policy", ["diffusion", "flow"])
def test_paper_diffusion_is_the_published_recipe(policy):
    d = make_config(policy, "paper").diffusion
    assert (d.horizon, d.n_obs_steps, d.n_action_steps, d.train_steps) == (16, 2, 8, 100)
    assert 10 <= d.inference_steps <= 16 and d.ema_max_decay > 0.99


def test_overrides_parse_numbers_lists_words_and_null():
    c = make_config(
        "act",
        "test",
        [
            "act.hidden_dim=64",
            "data.image_size=[32,40]",
            "backbone.norm=batch",
            "train.backbone_lr=null",
            "train.lr=3e-4",
        ],
    )
    assert c.act.hidden_dim == 64 and c.data.image_size == (32, 40) and c.backbone.norm == "batch"
    assert c.train.backbone_lr is None and c.train.lr == 3e-4


@pytest.mark.parametrize(
    "override, words",
    [
        ("act.hidden=64", ["act.hidden", "hidden_dim"]),
        ("diffusion.horizon=8", ["does not apply", "act"]),
        ("act.hidden_dim=30", ["n_heads"]),
        ("train.lr", ["key=value"]),
        ('data.regions={"cam_high": [0.5, 0.5, 0.6, 0.2]}', ["regions.cam_high", "inside"]),
        ("policy=flow", ["--policy"]),
    ],
)
def test_bad_overrides_are_refused_clearly(override, words):
    with pytest.raises(RobotStackError) as err:
        apply_overrides(make_config("act", "test"), [override])
    text = str(err.value)
    assert all(w in text for w in words), text


def test_diffusion_horizon_must_fit_the_unet():
    with pytest.raises(RobotStackError, match="divisible"):
        make_config("diffusion", "paper", ["diffusion.horizon=18"])


def test_unknown_policy_or_preset():
    with pytest.raises(RobotStackError, match="unknown policy"):
        make_config("bet", "test")
    with pytest.raises(RobotStackError, match="unknown preset"):
        make_config("act", "huge")


def test_a_shorter_time_budget_scales_the_steps_so_the_schedule_completes():
    train = make_config("act", "sim-cpu").train
    overrides = train.budget_overrides(train.time_budget_min / 4)
    assert overrides == [
        f"train.time_budget_min={train.time_budget_min / 4}",
        f"train.steps={round(train.steps / 4)}",
    ]
    shorter = make_config("act", "sim-cpu", overrides).train
    assert shorter.steps == round(train.steps / 4) and shorter.time_budget_min == train.time_budget_min / 4
    # a preset without a budget keeps its steps: nothing says how many fit in a minute
    assert make_config("act", "paper").train.budget_overrides(5)[1] == "train.steps=100000"
