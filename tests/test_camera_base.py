"""The behaviour every camera shares, driven through a camera that is fed by hand on a lockstep clock."""

import threading
import time

import numpy as np
import pytest

from drivers.cameras import Camera, CameraStalled, Capture
from robot_stack.clock import LockstepClock
from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import CameraSpec

FPS = 30
PERIOD = 1 / FPS
SPEC = CameraSpec(driver="opencv", device=0, width=8, height=6, fps=FPS)


class PushCamera(Camera):
    """Frames arrive through _publish, as a simulator's would."""

    driver = "test"
    threaded = False

    def _connect(self):
        self.connected = True

    def _disconnect(self):
        self.connected = False

    def describe_source(self):
        return "a test feed"

    def push(self, t, t_device=None, sequence=None, value=0):
        image = np.full((SPEC.height, SPEC.width, 3), value, np.uint8)
        return self._publish(Capture(image, t, t_device, sequence))


class FailingCamera(Camera):
    """A threaded camera whose device fails after a few frames."""

    driver = "test"

    def __init__(self, *args, frames_before_failure=3, **kwargs):
        super().__init__(*args, **kwargs)
        self.left = frames_before_failure

    def _connect(self):
        pass

    def _disconnect(self):
        pass

    def _read(self, timeout_s):
        if self.left == 0:
            raise OSError("device unplugged")
        self.left -= 1
        time.sleep(PERIOD)
        return Capture(np.zeros((6, 8, 3), np.uint8), self.clock.now())


def wait_until(condition, timeout_s=2.0):
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


@pytest.fixture
def clock():
    return LockstepClock(auto_advance=False)


@pytest.fixture
def cam(clock):
    with PushCamera("top", SPEC, clock=clock, first_frame_timeout_s=None, ring_size=8) as camera:
        yield camera


def test_latest_and_drain_hand_out_every_frame_once(cam, clock):
    for i in range(5):
        clock.advance_to(i * PERIOD)
        cam.push(clock.now(), value=i)
    assert cam.latest().index == 4 and cam.latest().image[0, 0, 0] == 4
    assert [f.index for f in cam.drain()] == [0, 1, 2, 3, 4]
    assert cam.drain() == []
    for i in range(5, 7):
        clock.advance_to(i * PERIOD)
        cam.push(clock.now())
    assert [f.index for f in cam.drain()] == [5, 6]
    assert [f.index for f in cam.frames_since(3)] == [4, 5, 6]
    assert cam.stats().frames == 7 and cam.stats().drops == 0


def test_frames_are_read_only(cam):
    frame = cam.push(0.0)
    with pytest.raises(ValueError):
        frame.image[0, 0, 0] = 1


def test_a_reader_that_falls_behind_sees_a_gap_and_a_count(cam, clock):
    for i in range(20):
        clock.advance_to(i * PERIOD)
        cam.push(clock.now())
    frames = cam.drain()
    assert [f.index for f in frames] == list(range(12, 20))  # the ring holds 8
    assert cam.stats().reader_missed == 12


def test_drops_come_from_timestamp_gaps(cam):
    for t in (0.0, PERIOD, 2 * PERIOD, 5 * PERIOD, 6.2 * PERIOD):
        cam.push(t)
    frames = cam.drain()
    assert [f.dropped_before for f in frames] == [0, 0, 0, 2, 0]
    assert cam.stats().drops == 2


def test_drops_come_from_device_sequence_numbers_where_there_are_some(cam):
    # sequence numbers win over times: the device knows what it lost
    for t, seq in ((0.0, 10), (PERIOD, 11), (2 * PERIOD, 15), (9 * PERIOD, 16)):
        cam.push(t, t_device=t, sequence=seq)
    assert [f.dropped_before for f in cam.drain()] == [0, 0, 3, 0]


def test_achieved_fps(cam):
    for i in range(40):
        cam.push(i * 2 * PERIOD)  # half the configured rate
    assert cam.stats().fps == pytest.approx(FPS / 2, rel=0.01)


def test_a_silent_camera_is_a_stall_by_name_and_recovers(clock):
    reports = []
    with PushCamera("wrist", SPEC, clock=clock, first_frame_timeout_s=None, on_stall=reports.append) as cam:
        cam.push(0.0)
        clock.advance_to(2 * PERIOD)
        assert not cam.stalled and cam.is_ready
        clock.advance_to(3.5 * PERIOD)  # past three periods without a frame
        assert cam.stalled and not cam.is_ready
        with pytest.raises(CameraStalled, match="camera 'wrist' stalled") as err:
            cam.latest()
        assert err.value.name == "wrist"
        assert wait_until(lambda: len(reports) == 1)
        assert isinstance(reports[0], CameraStalled) and cam.stats().stalled
        cam.push(clock.now())
        assert not cam.stalled and cam.latest().index == 1
        assert cam.stats().stalls == 1


def test_a_driver_failure_is_reported_with_its_reason():
    reports = []
    camera = FailingCamera("side", SPEC, on_stall=reports.append)
    with camera:
        assert wait_until(lambda: reports)
        with pytest.raises(CameraStalled, match="device unplugged"):
            camera.check()
    assert camera.stats().frames == 3


def test_a_camera_that_never_delivers_fails_to_open_by_name():
    camera = FailingCamera("side", SPEC, frames_before_failure=0, first_frame_timeout_s=1.0)
    with pytest.raises(RobotStackError, match=r"camera 'side'.*no frame.*device unplugged"):
        camera.open()
    assert not camera.is_open


def test_lifecycle(clock):
    camera = PushCamera("top", SPEC, clock=clock, first_frame_timeout_s=None)
    with pytest.raises(RobotStackError, match="not open"):
        camera.latest()
    assert camera.open() is camera and camera.open() is camera and camera.connected
    assert camera.latest() is None  # a push camera before its first frame
    camera.push(0.0)
    camera.close()
    camera.close()
    assert not camera.connected and not camera.is_open and not camera.stalled
    assert len(camera.drain()) == 1  # the last frames survive close()
    assert not any(t.name.startswith("camera-top") for t in threading.enumerate())


def test_a_stall_callback_may_close_the_camera(clock):
    closed = threading.Event()

    def close_it(error):
        camera.close()
        closed.set()

    camera = PushCamera("top", SPEC, clock=clock, first_frame_timeout_s=None, on_stall=close_it)
    camera.open()
    camera.push(0.0)
    clock.advance_to(10 * PERIOD)
    assert closed.wait(2.0) and not camera.is_open and not camera.connected


def test_a_threaded_driver_without_read_is_refused_when_defined():
    with pytest.raises(TypeError, match="NoRead is a threaded camera, so it must implement _read"):

        class NoRead(Camera):
            def _connect(self):
                pass

            def _disconnect(self):
                pass
