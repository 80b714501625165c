"""The RealSense driver against recordings made with pyrealsense2's software device.

No camera is attached here, so the tests write a real recording: a `software_device` with a colour
(and depth) sensor streams injected frames into `rs.recorder`, and the driver plays the file back
through the same `rs.pipeline` code path a live camera uses (pyrealsense2 2.59 records ROS2 .db3).
"""

import time

import numpy as np
import pytest

from drivers.cameras import CameraStalled
from drivers.cameras.realsense_camera import RealSenseCamera
from drivers.cameras.realsense_setup import configure_color_sensor
from robot_stack.errors import RobotStackError
from robot_stack.rig.schema import CameraSpec, ExposureSpec

rs = pytest.importorskip("pyrealsense2")

W, H, FPS = 64, 48, 30
COLOR = (200, 20, 10)  # RGB
SERIAL = "123456789012"
GAP_AFTER, GAP = 5, 2  # frame numbers jump from 5 to 8: two frames the device "lost"


def _intrinsics():
    intr = rs.intrinsics()
    intr.width, intr.height = W, H
    intr.fx = intr.fy = 50.0
    intr.ppx, intr.ppy = W / 2, H / 2
    intr.model = rs.distortion.none
    intr.coeffs = [0.0] * 5
    return intr


def _stream(kind, fmt, bpp, uid):
    stream = rs.video_stream()
    stream.type, stream.index, stream.uid = kind, 0, uid
    stream.width, stream.height, stream.fps = W, H, FPS
    stream.bpp, stream.fmt = bpp, fmt
    stream.intrinsics = _intrinsics()
    return stream


def _frame(profile, pixels, bpp, number, t_ms):
    frame = rs.software_video_frame()
    frame.pixels = pixels
    frame.bpp, frame.stride = bpp, W * bpp
    frame.timestamp, frame.domain = t_ms, rs.timestamp_domain.global_time
    frame.frame_number = number
    frame.profile = profile
    return frame


def record(path, n_frames, depth=False):
    """Write a recording of `n_frames` colour (and depth) frames at FPS, with a frame-number gap."""
    device = rs.software_device()
    device.register_info(rs.camera_info.serial_number, SERIAL)
    device.register_info(rs.camera_info.name, "software RealSense")
    color_sensor = device.add_sensor("RGB Camera")
    color = color_sensor.add_video_stream(
        _stream(rs.stream.color, rs.format.rgb8, 3, 0)
    ).as_video_stream_profile()
    sensors = [(color_sensor, color)]
    if depth:
        depth_sensor = device.add_sensor("Stereo Module")
        depth_profile = depth_sensor.add_video_stream(_stream(rs.stream.depth, rs.format.z16, 2, 1))
        depth_profile = depth_profile.as_video_stream_profile()
        depth_sensor.add_read_only_option(rs.option.depth_units, 0.001)
        identity = rs.extrinsics()
        identity.rotation, identity.translation = [1, 0, 0, 0, 1, 0, 0, 0, 1], [0, 0, 0]
        depth_profile.register_extrinsics_to(color, identity)
        sensors.append((depth_sensor, depth_profile))
        device.create_matcher(rs.matchers.default)
    recorder = rs.recorder(str(path), device)
    queue = rs.frame_queue(64)
    for sensor, profile in sensors:
        sensor.open(profile)
        sensor.start(queue)
    t0_ms = time.time() * 1000
    start = time.monotonic()
    for i in range(n_frames):
        number = i if i <= GAP_AFTER else i + GAP
        t_ms = t0_ms + i * 1000 / FPS
        image = np.empty((H, W, 3), np.uint8)
        image[...] = COLOR
        color_sensor.on_video_frame(_frame(color, image, 3, number, t_ms))
        if depth:
            distance = np.full((H, W), 1000 + i, np.uint16)
            depth_frame = _frame(depth_profile, distance, 2, number, t_ms)
            depth_frame.depth_units = 0.001
            depth_sensor.on_video_frame(depth_frame)
        # the recording keeps arrival times, and playback paces by them: inject at the real rate
        time.sleep(max(0.0, start + (i + 1) / FPS - time.monotonic()))
    for sensor, _ in sensors:
        sensor.stop()
        sensor.close()
    del recorder  # the file is finished when the recorder is destroyed
    return path


@pytest.fixture(scope="module")
def color_recording(tmp_path_factory):
    return record(tmp_path_factory.mktemp("rs") / "color.db3", n_frames=18)


@pytest.fixture(scope="module")
def depth_recording(tmp_path_factory):
    return record(tmp_path_factory.mktemp("rs") / "depth.db3", n_frames=12, depth=True)


def spec(**fields):
    return CameraSpec(driver="realsense", serial=SERIAL, width=W, height=H, fps=FPS, **fields)


def wait_for_stall(camera, timeout_s=3.0):
    """Until the watchdog has reported the stall (the recording ran out)."""
    deadline = time.monotonic() + timeout_s
    while camera.stats().stalls == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    return camera.stalled


def test_playback_delivers_frames_with_device_times_and_frame_number_drops(color_recording):
    stalls = []
    with RealSenseCamera("wrist", spec(), playback_file=color_recording, on_stall=stalls.append) as cam:
        assert wait_for_stall(cam)
        frames = cam.drain()
        info, stats = cam.info(), cam.stats()
        with pytest.raises(CameraStalled, match="wrist"):
            cam.latest()
    assert len(frames) >= 10  # playback may lose the first frame or two while the pipeline starts
    assert frames[0].image.shape == (H, W, 3) and frames[0].image.dtype == np.uint8
    assert tuple(frames[0].image[H // 2, W // 2]) == COLOR
    t_host = [f.t_host for f in frames]
    t_device = [f.t_device for f in frames]
    assert all(b > a for a, b in zip(t_host, t_host[1:], strict=False))
    steps = np.diff(t_device)
    assert np.all(steps > 0) and abs(float(np.median(steps)) - 1 / FPS) < 0.005
    assert info["t_device_domain"] == "global_time"
    assert info["serial"] == SERIAL
    assert stats.drops >= GAP and any(f.dropped_before >= GAP for f in frames)
    assert stats.stalled and len(stalls) == 1 and "ended" in str(stalls[0])


def test_playback_with_depth_aligned_to_colour(depth_recording):
    with RealSenseCamera("top", spec(depth=True), playback_file=depth_recording) as cam:
        assert wait_for_stall(cam)
        frames = cam.drain()
        info = cam.info()
    with_depth = [f for f in frames if f.depth is not None]
    assert with_depth, "no frame carried depth"
    depth = with_depth[0].depth
    assert depth.shape == (H, W) and depth.dtype == np.uint16
    assert 1000 <= int(depth[H // 2, W // 2]) < 1100
    assert info["depth_scale_m"] == pytest.approx(0.001)


def test_recording_without_the_configured_mode_names_it(color_recording):
    camera = RealSenseCamera(
        "wrist", spec().model_copy(update={"width": 1280}), playback_file=color_recording
    )
    with pytest.raises(RobotStackError, match=r"'wrist'.*1280x48") as err:
        camera.open()
    assert "rs-enumerate-devices" in err.value.hint
    assert not camera.is_open


def test_missing_recording_is_named(tmp_path):
    with pytest.raises(RobotStackError, match="does not exist"):
        RealSenseCamera("wrist", spec(), playback_file=tmp_path / "nope.db3").open()


def test_unknown_serial_names_it_and_lists_what_is_connected():
    camera = RealSenseCamera("wrist", spec().model_copy(update={"serial": "999999999999"}))
    with pytest.raises(RobotStackError, match=r"'wrist'.*serial 999999999999.*connected: ") as err:
        camera.open()
    assert "rs-enumerate-devices" in err.value.hint


def _software_color_sensor(options):
    device = rs.software_device()
    sensor = device.add_sensor("RGB Camera")
    for option, (low, high, default) in options.items():
        limits = rs.option_range()
        # set by name: pyrealsense2 2.59's positional option_range(min, max, step, default) swaps the last two
        limits.min, limits.max, limits.step, limits.default = low, high, 1, default
        sensor.add_option(option, limits, True)
    return device, sensor


def test_colour_sensor_exposure_gain_white_balance_are_locked():
    o = rs.option
    device, sensor = _software_color_sensor(
        {
            o.enable_auto_exposure: (0, 1, 1),
            o.exposure: (1, 10000, 156),
            o.gain: (0, 128, 64),
            o.enable_auto_white_balance: (0, 1, 1),
            o.white_balance: (2800, 6500, 4600),
        }
    )
    exposure = ExposureSpec(auto=False, exposure_us=8000, gain=32, white_balance_k=4000)
    configure_color_sensor(rs, sensor, "wrist", exposure)
    assert sensor.get_option(o.enable_auto_exposure) == 0
    assert sensor.get_option(o.exposure) == 80  # 100 µs units
    assert sensor.get_option(o.gain) == 32
    assert sensor.get_option(o.enable_auto_white_balance) == 0
    assert sensor.get_option(o.white_balance) == 4000
    configure_color_sensor(rs, sensor, "wrist", ExposureSpec())
    assert sensor.get_option(o.enable_auto_exposure) == 1
    assert sensor.get_option(o.enable_auto_white_balance) == 1
    del device


def test_colour_sensor_settings_it_cannot_take_are_errors():
    o = rs.option
    device, sensor = _software_color_sensor({o.enable_auto_exposure: (0, 1, 1), o.exposure: (1, 10000, 156)})
    with pytest.raises(RobotStackError, match=r"'wrist'.*outside.*1\.\.10000"):
        configure_color_sensor(rs, sensor, "wrist", ExposureSpec(auto=False, exposure_us=5_000_000))
    with pytest.raises(RobotStackError, match=r"'wrist'.*no gain control"):
        configure_color_sensor(rs, sensor, "wrist", ExposureSpec(auto=False, gain=10))
    del device
