"""Cameras from rig-file specs."""

import subprocess
import sys

import cv2
import numpy as np
import pytest

from drivers.cameras import factory, make_camera, open_camera, open_cameras
from drivers.cameras.opencv_camera import OpenCVCamera
from drivers.cameras.realsense_camera import RealSenseCamera
from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import CameraSpec

W, H, FPS = 32, 24, 30


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (W, H))
    for _ in range(60):
        writer.write(np.zeros((H, W, 3), np.uint8))
    writer.release()
    return path


def test_each_driver_gets_its_class():
    assert isinstance(make_camera("a", CameraSpec(driver="opencv", device=0)), OpenCVCamera)
    assert isinstance(make_camera("b", CameraSpec(driver="realsense", serial="1")), RealSenseCamera)


def test_sim_camera_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(factory, "SIM_CAMERA_MODULE", "drivers.sim.no_such_camera")
    with pytest.raises(
        RobotStackError, match=r"camera 'top' uses the sim driver, which is not available yet"
    ):
        make_camera("top", CameraSpec(driver="sim", device="top"))


def test_open_camera_returns_it_open(video):
    camera = open_camera("top", CameraSpec(driver="opencv", device=str(video), width=W, height=H, fps=FPS))
    try:
        assert camera.is_open and camera.latest() is not None
    finally:
        camera.close()


def test_open_cameras_closes_the_opened_ones_when_one_fails(video, monkeypatch):
    opened = []
    real_open = OpenCVCamera.open

    def remember(self):
        opened.append(self)
        return real_open(self)

    monkeypatch.setattr(OpenCVCamera, "open", remember)
    specs = {
        "top": CameraSpec(driver="opencv", device=str(video), width=W, height=H, fps=FPS),
        "wrist": CameraSpec(driver="opencv", device="/dev/video99", width=W, height=H, fps=FPS),
    }
    with pytest.raises(RobotStackError, match="'wrist'"):
        open_cameras(specs)
    assert [c.name for c in opened] == ["top", "wrist"]
    assert not any(c.is_open for c in opened)


def test_realsense_is_imported_only_when_a_realsense_camera_opens(monkeypatch):
    code = "import sys, drivers.cameras; print('pyrealsense2' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
    monkeypatch.setitem(sys.modules, "pyrealsense2", None)  # as on a machine without it
    with pytest.raises(RobotStackError, match=r"camera 'wrist'.*pyrealsense2 is not installed"):
        make_camera("wrist", CameraSpec(driver="realsense", serial="1")).open()
