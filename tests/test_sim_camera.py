"""Sim cameras: rendered by the simulator, published over real ZMQ, received through the camera interface."""

import time

import numpy as np
import pytest
import zmq

from drivers.cameras.errors import CameraStalled
from drivers.cameras.factory import open_camera
from drivers.sim.camera_server import SimCameraServer
from drivers.sim.rig import SimRig
from robot_stack.rig.schema import CameraSpec

SMALL = CameraSpec(driver="sim", device="top", width=160, height=120, fps=20, latency_ms=30)


@pytest.fixture
def sim(sim_rig_spec):
    with SimRig(sim_rig_spec, realtime=True, operator=False) as rig:
        yield rig


def test_frames_arrive_at_rate_with_modelled_latency(sim, tmp_path):
    endpoint = f"ipc://{tmp_path}/cams.sock"
    with SimCameraServer(sim, {"cam": SMALL}, endpoint):
        with open_camera("cam", SMALL, endpoint=endpoint) as cam:
            time.sleep(1.0)
            frames = cam.drain()
            stats = cam.stats()
    assert len(frames) >= 10
    assert frames[-1].image.shape == (120, 160, 3) and frames[-1].image.dtype == np.uint8
    assert frames[-1].image.mean() > 20  # the table and arms, not a black frame
    t = np.array([f.t_host for f in frames])
    assert np.all(np.diff(t) > 0)
    assert 12 <= stats.fps <= 25
    # host stamps are arrival times: scene capture time + modelled latency, after the sim clock
    assert all(f.t_device is not None for f in frames)


def test_a_stopped_simulator_is_a_stall_not_a_repeated_frame(sim, tmp_path):
    endpoint = f"ipc://{tmp_path}/cams.sock"
    server = SimCameraServer(sim, {"cam": SMALL}, endpoint).open()
    cam = open_camera("cam", SMALL, endpoint=endpoint)
    try:
        server.close()
        time.sleep(0.6)
        with pytest.raises(CameraStalled) as info:
            cam.latest()
        assert info.value.name == "cam"
    finally:
        cam.close()


def test_malformed_frames_are_counted_and_dropped(tmp_path):
    endpoint = f"ipc://{tmp_path}/cams.sock"
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.bind(endpoint)
    try:
        cam = open_camera("cam", SMALL, endpoint=endpoint, first_frame_timeout_s=None)
        try:
            time.sleep(0.3)  # let the subscription reach the publisher
            pub.send_multipart([b"cam", b'{"shape": [1, 1, 3]}', b"xyz"])
            pub.send_multipart([b"cam", b"not json at all", b""])
            deadline = time.monotonic() + 2
            while cam.malformed < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert cam.malformed == 2
            assert cam.stats().frames == 0  # garbage never becomes a frame
        finally:
            cam.close()
    finally:
        pub.close(linger=0)


def test_dropped_frames_show_as_gaps_not_repeats(sim, tmp_path):
    endpoint = f"ipc://{tmp_path}/cams.sock"
    with SimCameraServer(sim, {"cam": SMALL}, endpoint, drop_rate=0.5, seed=1) as server:
        with open_camera("cam", SMALL, endpoint=endpoint) as cam:
            time.sleep(1.0)
            stats = cam.stats()
            frames = cam.drain()
    assert server.dropped["cam"] > 0
    assert stats.drops > 0
    # every delivered frame is its own capture (the scene may look the same; its capture time differs)
    assert np.all(np.diff([f.t_device for f in frames]) > 0)
    assert sum(f.dropped_before for f in frames) > 0


def test_sim_command_refuses_a_bad_drop_rate(capsys):
    from robot_stack.app.cli import main

    assert main(["sim", "--camera-drop-rate", "1.5", "--seconds", "0"]) == 1
    assert "--camera-drop-rate 1.5 is not a fraction" in capsys.readouterr().err
