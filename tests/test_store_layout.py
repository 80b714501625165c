"""The layout speaks for itself: episodes written by the store read back with plain zarr, numpy and cv2."""

import json

import cv2
import numpy as np
import pytest
import zarr

from robot_stack.store import Dataset
from robot_stack.store.synthetic import feed_synthetic, synthetic_rig


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "demos.zarr"
    rig = synthetic_rig()
    fed = []
    with Dataset.create(path, rig, calibration={"left": {"offset": [0.1, 0.2]}}) as ds:
        for k in range(2):
            with ds.begin_episode(
                "transfer_cube", operator="ana", tags=["demo"], seed=k, extra={"take": k}
            ) as ep:
                fed.append(feed_synthetic(ep, 1.5, rig, seed=k, drop={"cam_high": {7}}))
    return path, rig, fed


def test_root_attrs_describe_the_dataset(recorded):
    path, rig, _ = recorded
    root = zarr.open_group(path, mode="r")
    attrs = root.attrs.asdict()
    assert attrs["format"] == "robot_stack.episodes" and attrs["format_version"] == 1
    assert attrs["rig"] == rig.model_dump(mode="json")
    assert json.loads(attrs["rig_yaml"])["name"] == "synthetic"  # JSON text is YAML a rig loader reads
    assert attrs["calibration"] == {"left": {"offset": [0.1, 0.2]}}
    assert attrs["software_version"]
    assert sorted(root["episodes"].group_keys()) == ["000000", "000001"]


def test_joints_read_back_exactly(recorded):
    path, _, fed = recorded
    root = zarr.open_group(path, mode="r")
    for k, f in enumerate(fed):
        joints = root[f"episodes/{k:06d}/joints"]
        assert joints["t"].dtype == np.float64 and joints["observation"].dtype == np.float32
        np.testing.assert_array_equal(joints["t"][:], f.tick_t)
        np.testing.assert_array_equal(joints["observation"][:], f.observation)
        np.testing.assert_array_equal(joints["action"][:], f.action)
        assert joints["intervention"].dtype == bool and joints["intervention"][0]


def test_frames_decode_with_cv2_and_alignment_is_stored(recorded):
    path, _, fed = recorded
    root = zarr.open_group(path, mode="r")
    cam = root["episodes/000000/cameras/cam_high"]
    assert cam.attrs["codec"] == "jpeg" and cam.attrs["color"] == "RGB"
    offsets = cam["jpeg_offsets"][:]
    t = cam["t"][:]
    assert len(offsets) == len(t) + 1 == len(fed[0].frames["cam_high"]) + 1
    np.testing.assert_array_equal(t, fed[0].frame_t["cam_high"])
    for i in (0, 7, len(t) - 1):
        rgb = cv2.imdecode(cam["jpeg"][offsets[i] : offsets[i + 1]], cv2.IMREAD_COLOR)[..., ::-1]
        assert rgb.shape == (cam.attrs["height"], cam.attrs["width"], 3)
        mse = np.mean((rgb.astype(float) - fed[0].frames["cam_high"][i]) ** 2)
        assert 10 * np.log10(255**2 / mse) > 33  # tiny test frames; bench/store.py measures 480×640
    tick_t = root["episodes/000000/joints/t"][:]
    expected = np.array([np.flatnonzero(t <= x).max() if (t <= x).any() else -1 for x in tick_t])
    np.testing.assert_array_equal(cam["tick"][:], expected)


def test_episode_attrs(recorded):
    path, _, _ = recorded
    attrs = zarr.open_group(path, mode="r")["episodes/000001"].attrs.asdict()
    assert attrs["task"] == "transfer_cube" and attrs["operator"] == "ana" and attrs["seed"] == 1
    assert attrs["status"] == "complete" and attrs["tags"] == ["demo"] and attrs["extra"] == {"take": 1}
    assert attrs["rates"] == {"control_hz": 50.0, "cameras": {"cam_high": 30.0, "cam_wrist": 30.0}}
    stats = attrs["stats"]
    assert stats["joints"]["ticks"] == 75 and abs(stats["joints"]["rate_hz"] - 50) < 1
    assert stats["cameras"]["cam_high"]["missing_frames"] == 1  # the dropped frame 7
    assert stats["cameras"]["cam_wrist"]["missing_frames"] == 0
    assert set(attrs["clock"]) == {"monotonic_s", "unix_s"}


def test_reader_api_matches_plain_zarr(recorded):
    path, _, fed = recorded
    ds = Dataset.open(path)
    assert list(ds.episodes()) == [0, 1] and ds.tags == {"demo": [0, 1]} and ds.leftovers == []
    ep = ds.episode(1)
    assert ep.cameras == ["cam_high", "cam_wrist"] and len(ep) == 75
    cam = ep.camera("cam_wrist")
    assert cam.frames.shape == (45, 96, 128, 3) and cam.t_device is None
    assert cam.frames[2:4].shape == (2, 96, 128, 3)
    np.testing.assert_array_equal(cam.frames[[3, -1]], np.stack([cam.frames[3], cam.frames[44]]))
    np.testing.assert_array_equal(
        cam.frames[5], cv2.imdecode(np.frombuffer(cam.frames.jpeg(5), np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    )
    age = cam.frame_age(ep.t[:])
    assert np.nanmax(age) < 0.04 and np.isnan(age[0]) == (cam.tick[0] == -1)
