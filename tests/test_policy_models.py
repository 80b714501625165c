"""The networks: shapes, that every ACT decoder layer learns, and that the samplers honour a prefix."""

import pytest
import torch

from policies.backbone import ResNet18, SpatialSoftmax
from policies.build import build_model
from policies.ddpm import DDPM, cosine_alpha_bars
from policies.ema import EMA
from policies.presets import make_config
from policies.spec import PolicySpec
from policies.unet import ConditionalUnet1D

torch.set_num_threads(1)


def spec_for(config, cameras=("cam_a", "cam_b"), joints=3):
    return PolicySpec(
        cameras=list(cameras),
        image_size=config.data.image_size,
        crop_size=config.data.crop_size,
        arms={"left": [f"j{i}" for i in range(joints)], "right": [f"j{i}" for i in range(joints)]},
        action_dim=2 * joints,
        control_rate_hz=50.0,
    )


def batch_for(config, spec, b=3):
    h, w = spec.crop_size
    return {
        "images": torch.rand(b, config.n_obs_steps, len(spec.cameras), 3, h, w),
        "state": torch.randn(b, config.n_obs_steps, spec.state_dim),
        "action": torch.randn(b, config.horizon, spec.action_dim).clamp(-1, 1),
        "action_mask": torch.ones(b, config.horizon, dtype=torch.bool),
    }


@pytest.mark.parametrize("norm", ["group", "batch", "frozen_batch"])
def test_resnet18_feature_size_matches_its_prediction(norm):
    net = ResNet18(width=8, norm=norm)
    for size in [(48, 64), (33, 47)]:
        out = net(torch.zeros(1, 3, *size))
        assert out.shape[1] == 64 and tuple(out.shape[2:]) == ResNet18.feature_size(size)
    assert sum(len(s) for s in net.stages) == 8  # ResNet-18: 4 stages × 2 basic blocks


def test_a_three_stage_backbone_keeps_a_twice_finer_map():
    net = ResNet18(width=8, stages=3)
    out = net(torch.zeros(1, 3, 91, 122))
    assert out.shape[1] == net.out_channels == 32
    assert tuple(out.shape[2:]) == ResNet18.feature_size((91, 122), stages=3) == (6, 8)
    assert ResNet18.feature_size((91, 122)) == (3, 4)


def test_spatial_softmax_finds_the_hot_spot():
    pool = SpatialSoftmax(1, 1, (5, 5))
    with torch.no_grad():
        pool.keypoints.weight.fill_(1.0)
        pool.keypoints.bias.zero_()
    features = torch.zeros(1, 1, 5, 5)
    features[0, 0, 4, 0] = 50.0  # bottom-left corner
    x, y = pool(features)[0].tolist()
    assert x == pytest.approx(-1, abs=1e-3) and y == pytest.approx(1, abs=1e-3)


def test_every_act_decoder_layer_gets_gradient():
    config = make_config("act", "test", ["act.dec_layers=4"])
    spec = spec_for(config)
    model = build_model(config, spec)
    loss, metrics = model(batch_for(config, spec))
    loss.backward()
    assert set(metrics) == {"l1", "kl"}
    assert len(model.decoder.layers) == 4
    for i, layer in enumerate(model.decoder.layers):
        for name in ("ff.linear1.weight", "ff.linear2.weight", "cross_attn.in_proj_weight", "norm3.weight"):
            grad = layer.get_parameter(name).grad
            assert grad is not None and grad.abs().sum() > 0, f"decoder layer {i} {name} gets no gradient"


def test_act_prediction_uses_the_last_decoder_layer():
    config = make_config("act", "test")
    spec = spec_for(config)
    model = build_model(config, spec).eval()
    batch = batch_for(config, spec, b=1)
    before = model.predict_chunk(batch["images"], batch["state"])
    with torch.no_grad():
        weight = model.decoder.layers[-1].ff.linear2.weight
        weight.add_(torch.randn_like(weight))
    assert not torch.allclose(before, model.predict_chunk(batch["images"], batch["state"]))


def test_act_learns_a_chunk_that_moves_over_its_ticks():
    """Each action of a chunk belongs to its own tick: ACT must tell its decoder queries apart. Here the
    demonstrated chunk is a ramp away from the start state; 100 steps learn most of it (with queries
    initialised at 0.02 the chunk stayed flat, rising 1-3 % of the ramp)."""
    torch.manual_seed(0)
    config = make_config("act", "test", ["act.chunk_size=16", "data.image_size=[24,32]"])
    spec = spec_for(config, cameras=("cam",), joints=1)
    model = build_model(config, spec)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ticks, (h, w) = torch.arange(16.0), spec.crop_size
    for _ in range(100):
        state = torch.randn(32, 1, 2)
        direction = torch.sign(state[:, 0])
        batch = {
            "images": torch.zeros(32, 1, 1, 3, h, w),
            "state": state,
            "action": state + 0.1 * ticks[None, :, None] * direction[:, None, :],
            "action_mask": torch.ones(32, 16, dtype=torch.bool),
        }
        loss, _ = model(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    chunk = model.eval().predict_chunk(batch["images"], batch["state"])
    rise = float(((chunk[:, -1] - chunk[:, 0]) * direction).mean()) / (0.1 * 15)
    assert rise > 0.4, f"the predicted chunk rises {rise:.0%} of the demonstrated ramp"


@pytest.mark.parametrize("policy", ["diffusion", "flow"])
def test_samplers_return_finite_chunks_of_the_right_shape(policy):
    config = make_config(policy, "test")
    spec = spec_for(config)
    model = build_model(config, spec).eval()
    batch = batch_for(config, spec)
    for steps in (1, 3, None):
        chunk = model.predict_chunk(batch["images"], batch["state"], steps=steps)
        assert chunk.shape == (3, config.diffusion.n_action_steps, spec.action_dim)
        assert torch.isfinite(chunk).all()


@pytest.mark.parametrize("policy", ["diffusion", "flow"])
def test_prefix_is_kept_exactly(policy):
    config = make_config(policy, "test")
    spec = spec_for(config)
    model = build_model(config, spec).eval()
    batch = batch_for(config, spec, b=2)
    prefix = torch.linspace(-0.5, 0.5, 2 * 3 * spec.action_dim).reshape(2, 3, spec.action_dim)
    chunk = model.predict_chunk(batch["images"], batch["state"], prefix=prefix)
    assert torch.allclose(chunk[:, :3], prefix)
    assert torch.isfinite(chunk).all()


def test_cosine_schedule_runs_from_signal_to_noise():
    ab = cosine_alpha_bars(100)
    assert ab[0] > 0.99 and ab[-1] < 1e-3 and bool((ab[1:] < ab[:-1]).all())
    assert DDPM(100, 1.0).timesteps(10) == [99, 89, 79, 69, 59, 49, 39, 29, 19, 9]


def test_ddim_recovers_a_point_mass_with_an_exact_denoiser():
    ddpm = DDPM(50, clip_sample=None)
    target = torch.tensor([[[0.3, -0.7]]])
    ab = ddpm.alpha_bars

    def oracle(x, t):  # the ε that explains x_t exactly, for data that is always `target`
        a = ab[t].view(-1, 1, 1)
        return (x - a.sqrt() * target) / (1 - a).sqrt()

    out = ddpm.sample(oracle, (4, 1, 2), steps=5, device=torch.device("cpu"))
    assert torch.allclose(out, target.expand(4, 1, 2), atol=1e-4)


def test_unet_keeps_the_sequence_shape():
    net = ConditionalUnet1D(action_dim=5, cond_dim=7, down_dims=(16, 32, 64), kernel=3, groups=4, time_dim=16)
    out = net(torch.randn(2, 16, 5), torch.tensor([3, 40]), torch.randn(2, 7))
    assert out.shape == (2, 16, 5)


def test_ema_starts_as_a_copy_and_then_lags():
    model = torch.nn.Linear(2, 2)
    ema = EMA(model, power=0.75, max_decay=0.999)
    ema.update(model)
    assert torch.equal(ema.module.weight, model.weight)
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)
    gap = (model.weight - ema.module.weight).abs().max()
    assert 0 < gap < 1.0


def test_coordinate_channels_let_the_features_say_where_a_blob_is():
    # a plain conv net (with its zero padding far away) answers alike wherever a blob sits in the middle;
    # with the pixel coordinates appended, the same blob in two places gives two different features
    torch.manual_seed(0)
    blob_left, blob_right = torch.zeros(1, 3, 160, 160), torch.zeros(1, 3, 160, 160)
    blob_left[..., 76:80, 64:68] = 1.0
    blob_right[..., 76:80, 80:84] = 1.0  # moved by twice the network's stride: the same pixels to a conv
    for coords in (False, True):
        net = ResNet18(width=8, stages=2, coords=coords).eval()
        with torch.no_grad():
            pooled = [net(x).sum(dim=(2, 3)) for x in (blob_left, blob_right)]
        differs = not torch.allclose(pooled[0], pooled[1], atol=1e-4)
        assert differs == coords
