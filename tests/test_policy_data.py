"""The dataset view: alignment, history, padding, normalisation, splits, augmentation, bad episodes."""

import numpy as np
import pytest
import torch

from policies.dataset import EpisodeDataset, idle_lead_in
from policies.episodes import MemoryEpisode
from policies.images import color_jitter, cut_region, prepare_frame, prepare_images, random_crop, resize_frame
from policies.loading import split_episodes
from policies.normalize import Normalizer, Stats
from policies.synthetic import synthetic_episode
from robot_stack.errors import RobotStackError

torch.set_num_threads(1)


def numbered_episode(ticks=10, frames=4):
    """Observation/action value = tick number; frame k of camera 'cam' is filled with value 10·k."""
    obs = np.arange(ticks, dtype=np.float32)[:, None].repeat(2, 1)
    act = obs + 100
    images = np.stack([np.full((8, 8, 3), 10 * k, np.uint8) for k in range(frames)])
    index = np.minimum(np.arange(ticks) // 3, frames - 1)
    return MemoryEpisode("e0", obs, act, {"cam": images}, {"cam": index})


def identity_normalizer(dim=2):
    stats = Stats(np.zeros(dim), np.ones(dim), np.zeros(dim), np.ones(dim))
    return Normalizer("meanstd", stats, stats)


def test_sample_history_actions_mask_and_frame_alignment():
    ds = EpisodeDataset(
        [numbered_episode()],
        ["cam"],
        (8, 8),
        n_obs_steps=2,
        horizon=4,
        stride=2,
        normalizer=identity_normalizer(),
    )
    assert len(ds) == 10
    s = ds[7]  # current tick 7, history ticks 5 and 7, actions from tick 5 every 2 ticks
    assert s["state"][:, 0].tolist() == [5, 7]
    assert s["action"][:, 0].tolist() == [105, 107, 109, 109]
    assert s["action_mask"].tolist() == [True, True, True, False]
    assert s["images"].shape == (2, 1, 3, 8, 8) and s["images"].dtype == torch.uint8
    assert [int(s["images"][t, 0, 0, 0, 0]) for t in range(2)] == [10, 20]  # ticks 5, 7 → frames 1, 2
    first = ds[0]  # before the start: the first tick repeated
    assert first["state"][:, 0].tolist() == [0, 0] and first["action_mask"].all()


def test_frames_are_resized_and_cached():
    ep = synthetic_episode("x", np.random.default_rng(0), ticks=12, frame_size=(60, 80))
    ds = EpisodeDataset([ep], ["cam_high"], (24, 32), 1, 4, 1, identity_normalizer(4), cache_frames=True)
    assert ds[3]["images"].shape == (1, 1, 3, 24, 32)
    assert len(ds.cache) == 1
    ds[4]
    assert len(ds.cache) <= 2


def test_a_camera_region_is_cut_from_the_frame_before_resizing():
    frame = np.arange(8 * 12 * 3, dtype=np.uint8).reshape(8, 12, 3)
    middle = cut_region(frame, (0.25, 0.25, 0.5, 0.5))
    assert np.array_equal(middle, frame[2:6, 3:9])
    assert cut_region(frame, None) is frame
    ep = synthetic_episode("x", np.random.default_rng(0), ticks=12, frame_size=(60, 80))
    region = (0.2, 0.5, 0.4, 0.5)
    ds = EpisodeDataset(
        [ep], ["cam_high"], (12, 20), 1, 4, 1, identity_normalizer(4), regions={"cam_high": region}
    )
    tick = 5
    expected = prepare_frame(ep.frame("cam_high", int(ep.frame_index("cam_high")[tick])), (12, 20), region)
    got = ds[tick]["images"][0, 0].permute(1, 2, 0).numpy()
    assert np.array_equal(got, expected)
    whole = resize_frame(ep.frame("cam_high", int(ep.frame_index("cam_high")[tick])), (12, 20))
    assert not np.array_equal(got, whole)


def test_normalizer_round_trip_and_constant_dimensions():
    rng = np.random.default_rng(1)
    data = rng.normal(3, 2, size=(100, 3)).astype(np.float32)
    data[:, 2] = 0.5  # a joint that never moved
    for mode in ("minmax", "meanstd"):
        n = Normalizer.fit(mode, [data], [data])
        x = n.action(data)
        assert np.isfinite(x).all()
        if mode == "minmax":
            assert x[:, :2].min() == pytest.approx(-1, abs=1e-5) and x[:, :2].max() == pytest.approx(
                1, abs=1e-5
            )
        assert np.allclose(n.unnormalize_action(x), data, atol=1e-5)
        again = Normalizer.from_json(n.to_json())
        assert np.allclose(again.state(data), n.state(data))
        assert torch.allclose(n.action(torch.from_numpy(data)), torch.from_numpy(x))


def test_split_is_by_episode_and_deterministic():
    train, val = split_episodes(10, 0.2, seed=3)
    assert len(val) == 2 and sorted(train + val) == list(range(10))
    assert split_episodes(10, 0.2, seed=3) == (train, val)
    assert split_episodes(1, 0.2, seed=0) == ([0], [])
    assert split_episodes(5, 0.0, seed=0) == ([0, 1, 2, 3, 4], [])


def test_augmentation_keeps_shapes_and_range():
    images = torch.randint(0, 256, (3, 2, 2, 3, 24, 32), dtype=torch.uint8)
    g = torch.Generator().manual_seed(0)
    out = prepare_images(images, (20, 28), train=True, jitter=0.2, generator=g)
    assert out.shape == (3, 2, 2, 3, 20, 28) and 0 <= out.min() and out.max() <= 1
    evaluated = prepare_images(images, (20, 28), train=False)
    assert torch.equal(evaluated, images[..., 2:22, 2:30].float() / 255)
    crops = random_crop(torch.arange(2 * 10 * 10.0).reshape(2, 1, 10, 10).expand(2, 3, 10, 10), (4, 4), g)
    assert crops.shape == (2, 3, 4, 4)
    assert torch.equal(color_jitter(out, 0.0), out)


def test_resize_is_antialiased_uint8():
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[::2] = 255  # one-pixel stripes average to grey when shrunk, not alias to black or white
    small = resize_frame(frame, (15, 20))
    assert small.dtype == np.uint8 and small.shape == (15, 20, 3)
    assert 100 < small.mean() < 155


@pytest.mark.parametrize(
    "breakage, words",
    [
        (lambda e: setattr(e, "action", e.action[:-1]), ["e0", "action"]),
        (lambda e: e.ticks.__setitem__("cam", e.ticks["cam"] + 5), ["e0", "cam", "frames"]),
        (lambda e: e.frames.__setitem__("other", e.frames.pop("cam")), ["e0", "no camera 'cam'"]),
    ],
)
def test_bad_episodes_are_refused_by_name(breakage, words):
    ep = numbered_episode()
    breakage(ep)
    with pytest.raises(RobotStackError) as err:
        EpisodeDataset([ep], ["cam"], (8, 8), 1, 4, 1, identity_normalizer())
    assert all(w in str(err.value) for w in words), str(err.value)


def test_ticks_before_the_first_frame_are_left_out():
    ep = numbered_episode()
    ep.ticks["cam"] = np.concatenate([[-1, -1], ep.ticks["cam"][2:]])
    ds = EpisodeDataset([ep], ["cam"], (8, 8), 1, 2, 1, identity_normalizer())
    assert len(ds) == 8 and ds[0]["state"][0, 0] == 2
    ep.ticks["cam"][5] = -1  # a gap after frames began is a recording defect, not padding
    with pytest.raises(RobotStackError, match="without a frame after its first frame"):
        EpisodeDataset([ep], ["cam"], (8, 8), 1, 2, 1, identity_normalizer())


def test_the_idle_lead_in_is_trimmed_to_one_still_tick_before_the_first_movement():
    ep = numbered_episode(ticks=12)
    ep.action[:6] = ep.action[0]  # the operator waits 6 ticks before moving
    ep.action[3, 1] += 0.005  # a tremor below the tolerance is still idle
    ds = EpisodeDataset([ep], ["cam"], (8, 8), 1, 3, 1, identity_normalizer(), trim_idle_start=True)
    assert len(ds) == 7 and ds[0]["state"][0, 0] == 5  # the last still tick, then tick 6 moves
    assert ds[0]["action"][:, 0].tolist() == [100, 106, 107]
    assert len(EpisodeDataset([ep], ["cam"], (8, 8), 1, 3, 1, identity_normalizer())) == 12
    assert idle_lead_in(np.zeros((5, 3))) == 0  # never moves: nothing to trim
    assert idle_lead_in(np.arange(5.0)[:, None]) == 0  # moves at once


def test_the_frame_cache_decodes_each_frame_once_into_one_block_per_episode_camera():
    from policies.frame_cache import FrameCache

    cache = FrameCache((6, 8))
    made = []

    def make(value):
        def decode():
            made.append(value)
            return np.full((6, 8, 3), value, np.uint8)

        return decode

    first = cache.get(0, "cam_high", 3, 10, make(7))
    again = cache.get(0, "cam_high", 3, 10, make(9))
    assert made == [7] and int(again[0, 0, 0]) == 7 and np.array_equal(first, again)
    cache.get(0, "cam_high", 4, 10, make(8))
    cache.get(1, "cam_low", 0, 5, make(1))
    assert len(cache) == 3
    # the blocks hold the frames at their resized size: (10 + 5) frames × 6 × 8 × 3 bytes, nothing more
    assert cache.nbytes == (10 + 5) * 6 * 8 * 3


def test_state_noise_perturbs_the_training_state_only():
    from policies import make_config
    from policies.loading import to_device

    batch = {
        "images": torch.zeros(64, 1, 1, 3, 48, 64, dtype=torch.uint8),
        "state": torch.zeros(64, 1, 14),
        "action": torch.zeros(64, 8, 14),
        "action_mask": torch.ones(64, 8, dtype=torch.bool),
    }
    noisy = make_config("act", "test", ["data.state_noise=0.1"])
    g = torch.Generator().manual_seed(0)
    trained = to_device(batch, noisy, torch.device("cpu"), train=True, generator=g)
    assert abs(float(trained["state"].std()) - 0.1) < 0.01 and torch.equal(trained["action"], batch["action"])
    assert torch.equal(to_device(batch, noisy, torch.device("cpu"), train=False)["state"], batch["state"])
    plain = make_config("act", "test")
    assert torch.equal(
        to_device(batch, plain, torch.device("cpu"), train=True, generator=g)["state"], batch["state"]
    )
