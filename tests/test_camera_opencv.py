"""The OpenCV driver, run through the real cv2 code on a video file the test writes (MJPG in .avi)."""

import time

import cv2
import numpy as np
import pytest

from drivers.cameras import CameraStalled
from drivers.cameras.opencv_camera import OpenCVCamera
from drivers.cameras.opencv_settings import configure_uvc
from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import CameraSpec, ExposureSpec

W, H, FPS, N = 64, 48, 30, 15


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """Red frames (written as BGR) with a corner patch that brightens frame by frame."""
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (W, H))
    assert writer.isOpened()
    for i in range(N):
        bgr = np.zeros((H, W, 3), np.uint8)
        bgr[..., 2] = 255
        bgr[:16, :16] = 15 * i
        writer.write(bgr)
    writer.release()
    return path


def spec(device, **fields):
    return CameraSpec(driver="opencv", device=device, **{"width": W, "height": H, "fps": FPS, **fields})


def test_file_plays_at_its_rate_in_rgb_then_stalls_by_name(video):
    reports = []
    with OpenCVCamera("top", spec(str(video)), on_stall=reports.append) as cam:
        first = cam.latest()
        again = cam.latest()  # at once: no waiting for the next frame
        assert again.index == first.index or again.index == first.index + 1
        deadline = time.monotonic() + 5
        while not reports and time.monotonic() < deadline:
            time.sleep(0.02)
        frames = cam.drain()
        stats = cam.stats()
        with pytest.raises(CameraStalled, match="camera 'top' stalled.*ended"):
            cam.latest()
        assert not cam.is_ready
    assert [f.index for f in frames] == list(range(N))
    red = frames[0].image[H - 8, W - 8]
    assert red[0] > 200 and red[1] < 50 and red[2] < 50, "channels must be RGB"
    patch = [int(f.image[4, 4, 1]) for f in frames]
    assert patch == sorted(patch) and patch[-1] > patch[0] + 100, "frames out of order"
    t_host = np.array([f.t_host for f in frames])
    assert np.all(np.diff(t_host) > 0)
    assert 0.5 / FPS < float(np.median(np.diff(t_host))) < 2 / FPS
    assert 0.5 * FPS < stats.fps < 2 * FPS
    assert np.allclose(np.diff([f.t_device for f in frames]), 1 / FPS, atol=1e-3)
    assert stats.drops == 0 and stats.frames == N and stats.stalls == 1
    assert len(reports) == 1 and reports[0].name == "top" and "clip.avi ended" in str(reports[0])


@pytest.mark.parametrize("device", ["/dev/video99", 99])
def test_missing_device_says_which_and_how_to_find_the_right_one(device):
    camera = OpenCVCamera("wrist_left", spec(device))
    with pytest.raises(RobotStackError, match=r"'wrist_left'.*/dev/video99 does not exist") as err:
        camera.open()
    assert "v4l2-ctl --list-devices" in err.value.hint and "/dev/v4l/by-id" in err.value.hint
    assert not camera.is_open


def test_missing_file_or_device_field_is_named(tmp_path):
    with pytest.raises(RobotStackError, match="neither a /dev/video"):
        OpenCVCamera("top", spec(str(tmp_path / "none.avi"))).open()
    with pytest.raises(RobotStackError, match="has no device"):
        OpenCVCamera("top", spec(None)).open()


def test_a_size_other_than_configured_is_an_error(video):
    camera = OpenCVCamera("top", spec(str(video), width=640, height=480))
    with pytest.raises(RobotStackError, match=r"delivers 64x48, not the 640x480"):
        camera.open()
    assert not camera.is_open


class RecordingCapture:
    """Stands in for a cv2.VideoCapture on a V4L2 device: records settings, refuses some."""

    def __init__(self, refuse=()):
        self.sets = []
        self.refuse = set(refuse)

    def set(self, prop, value):
        self.sets.append((prop, value))
        return prop not in self.refuse


def test_uvc_settings_lock_exposure_and_white_balance_in_v4l2_units():
    cap = RecordingCapture(refuse={cv2.CAP_PROP_BUFFERSIZE})
    exposure = ExposureSpec(auto=False, exposure_us=10_000, gain=20, white_balance_k=4500)
    notes = configure_uvc(cap, "top", "/dev/video0", spec(0, exposure=exposure))
    props = dict(cap.sets)
    order = [p for p, _ in cap.sets]
    assert order.index(cv2.CAP_PROP_FOURCC) < order.index(cv2.CAP_PROP_FRAME_WIDTH)
    assert props[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter.fourcc(*"MJPG")
    assert props[cv2.CAP_PROP_FPS] == FPS and props[cv2.CAP_PROP_BUFFERSIZE] == 1
    assert props[cv2.CAP_PROP_AUTO_EXPOSURE] == 1  # V4L2_EXPOSURE_MANUAL
    assert props[cv2.CAP_PROP_EXPOSURE] == 100  # 10 ms in 100 µs units
    assert props[cv2.CAP_PROP_GAIN] == 20
    assert props[cv2.CAP_PROP_AUTO_WB] == 0 and props[cv2.CAP_PROP_WB_TEMPERATURE] == 4500
    assert notes == ["camera did not accept a buffer size of 1"]


def test_a_locked_setting_the_camera_refuses_is_an_error():
    cap = RecordingCapture(refuse={cv2.CAP_PROP_WB_TEMPERATURE})
    exposure = ExposureSpec(auto=True, white_balance_k=4500)
    with pytest.raises(RobotStackError, match=r"'top' \(/dev/video0\) refused 4500 K white balance") as err:
        configure_uvc(cap, "top", "/dev/video0", spec(0, exposure=exposure))
    assert "--list-ctrls" in err.value.hint
