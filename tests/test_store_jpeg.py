"""The store's JPEG codec: flat quantisation tables by default, libjpeg's on request, any decoder reads both."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from robot_stack.errors import RobotStackError
from robot_stack.store import JpegCodec, decode_jpeg
from robot_stack.store.synthetic import SyntheticCamera


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


@pytest.fixture(scope="module")
def noisy_frames() -> list[np.ndarray]:
    return [SyntheticCamera(480, 640, seed=s, noise_sigma=2.0).frame(0.37 * s) for s in range(3)]


def test_the_default_tables_are_flat_and_in_the_file():
    frame = SyntheticCamera(120, 160, seed=1).frame(0.0)
    data = JpegCodec().encode(frame)
    tables = Image.open(io.BytesIO(data)).quantization
    assert set(tables) == {0, 1}  # one for luma, one for both chroma channels
    assert all(list(t) == [9] * 64 for t in tables.values())
    assert JpegCodec().attrs() == {
        "codec": "jpeg",
        "quantization_step": 9,
        "subsampling": "4:4:4",
        "color": "RGB",
    }
    assert decode_jpeg(data).shape == frame.shape


def test_flat_tables_beat_libjpeg_quality_85_on_noisy_camera_frames(noisy_frames):
    flat, libjpeg = JpegCodec(), JpegCodec(quality=85)
    flat_bytes = [flat.encode(f) for f in noisy_frames]
    lib_bytes = [libjpeg.encode(f) for f in noisy_frames]
    flat_psnr = np.mean([psnr(decode_jpeg(b), f) for b, f in zip(flat_bytes, noisy_frames, strict=True)])
    lib_psnr = np.mean([psnr(decode_jpeg(b), f) for b, f in zip(lib_bytes, noisy_frames, strict=True)])
    assert sum(map(len, flat_bytes)) < 0.95 * sum(map(len, lib_bytes))
    assert flat_psnr > lib_psnr + 0.3


def test_a_quality_selects_libjpeg_tables_and_is_recorded():
    frame = SyntheticCamera(120, 160, seed=2).frame(0.0)
    codec = JpegCodec(quality=85)
    tables = Image.open(io.BytesIO(codec.encode(frame))).quantization
    assert len(set(tables[0])) > 10  # shaped, not flat
    assert codec.attrs()["quality"] == 85 and "quantization_step" not in codec.attrs()
    assert JpegCodec(**codec.settings()) == codec


def test_a_strided_rgb_view_encodes_like_its_copy():
    frame = SyntheticCamera(120, 160, seed=3).frame(0.0)
    bgr = np.ascontiguousarray(frame[..., ::-1])
    assert JpegCodec().encode(bgr[..., ::-1]) == JpegCodec().encode(frame)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"step": 0}, "quantisation step 0"), ({"step": 300}, "quantisation step 300"), ({"quality": 101}, "quality 101"),
     ({"subsampling": "4:1:1"}, "subsampling"), ({"quality": 85, "step": 8}, "both given")],
)  # fmt: skip
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(RobotStackError, match=message):
        JpegCodec(**kwargs)


def test_a_frame_that_is_not_rgb_is_refused():
    with pytest.raises(RobotStackError, match="shape"):
        JpegCodec().encode(np.zeros((10, 10), np.uint8))


def test_without_memfd_the_encoder_writes_through_a_temporary_file(monkeypatch):
    frame = SyntheticCamera(120, 160, seed=4).frame(0.0)
    expected = JpegCodec().encode(frame)

    def no_memfd(*args):
        raise OSError("memfd_create is not permitted here")

    monkeypatch.setattr("robot_stack.store.jpeg.os.memfd_create", no_memfd, raising=False)
    assert JpegCodec().encode(frame) == expected
