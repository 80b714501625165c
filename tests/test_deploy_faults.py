"""Faults during deployment: a motor going silent stops the runtime safely naming it; garbage from a
remote planner or on the command socket is dropped and counted while the robot keeps going; a
checkpoint for another rig and a network planner without keys are refused before anything moves."""

import socket
import threading
import time

import numpy as np
import pytest
import zmq
from deploy_support import CommandLog, running, sim_bench, tiny_checkpoint, wait_until, write_rig

from calibration.tick_reader import BusFault
from deploy.scripted_policy import ScriptedReplayPolicy
from deploy.transport import Channel, PlannerLink, request
from policies import make_config, train
from policies.synthetic import synthetic_set
from robot_stack.app.cli import main as cli
from robot_stack.wire import ChunkMessage, Command, decode_reply


def test_a_silent_motor_stops_the_runtime_naming_it_and_parks_the_other_arm(tmp_path):
    _, rig = write_rig(tmp_path)
    logs = {}
    with sim_bench(rig) as bench:
        policy = ScriptedReplayPolicy(rig, "transfer_cube", 1, time_origin=time.monotonic() + 60)
        settings = bench.settings(bus_deadline_s=0.05)
        with running(bench, settings, policy, lambda d: logs.setdefault("log", CommandLog(d))) as daemon:
            assert daemon.executor.wait_for(("running",), 10)
            silenced_at = time.monotonic()
            bench.sim.chains["left_follower"].faults.silent_ids.add(4)
            with pytest.raises(BusFault) as caught:
                daemon.join(30)
            assert daemon.executor.stopped_ticking_at - silenced_at < 2.0
    message = caught.value.message
    assert message.startswith("deploy stopped:") and "motor 4 (left_follower/elbow)" in message
    assert daemon.executor.phase == "fault" and daemon.executor.fault
    # the right follower, whose bus works, was parked at its rest pose after the fault
    right = logs["log"].values("right_follower", since=daemon.executor.stopped_ticking_at)
    assert len(right) > 10
    np.testing.assert_allclose(right[-1], rig.arms["right_follower"].rest_pose, atol=0.01)
    names = [e["name"] for e in daemon.executor.events]
    assert "fault" in names and names.index("fault") < names.index("parked")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_garbage_from_a_remote_planner_and_on_the_command_socket_is_dropped_and_counted(tmp_path):
    _, rig = write_rig(tmp_path)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    stop, sent = threading.Event(), {"garbage": 0}

    def fake_policy_server():
        """Answers each observation with garbage, an oversized message, then a valid (holding) chunk."""
        with PlannerLink(endpoint) as link:
            while not stop.is_set():
                req = link.recv_latest(0.05)
                if req is None:
                    continue
                obs = req.observation
                if sent["garbage"] < 4:
                    link.channel.send([b"\x00not a header", b"junk"], req.peer)
                    link.channel.send([b"{}", b"x" * (20 << 20), b"x" * (20 << 20)], req.peer)  # 40 MiB
                    sent["garbage"] += 2
                hold = np.tile(obs.state, (25, 1))
                link.send_chunk(req.peer, ChunkMessage(hold, obs.t, 0.02, obs.seq, obs.seq, obs.episode))

    server = threading.Thread(target=fake_policy_server, daemon=True)
    server.start()
    try:
        with sim_bench(rig) as bench:
            settings = bench.settings(remote=endpoint)
            with running(bench, settings) as daemon:
                assert daemon.planner is None  # planning happens elsewhere
                assert wait_until(lambda: daemon.executor.chunks_accepted >= 5, 20)
                with Channel(zmq.REQ, rig.deploy.command_endpoint, bind=False) as channel:
                    channel.send([b"garbage"])
                    reply = channel.recv(decode_reply, 3)[1]
                status = request(rig.deploy.command_endpoint, Command("status")).data
                assert daemon.executor.phase in ("ramp", "running")
    finally:
        stop.set()
        server.join(5)
    assert not reply.ok and "malformed" in reply.error
    assert status["daemon"]["command_drops"] == {"malformed": 1}
    assert status["daemon"]["planner"] == endpoint
    dropped = status["link"]["dropped"]
    assert dropped.get("malformed", 0) >= 1 and dropped.get("oversized", 0) >= 1
    assert sent["garbage"] >= 2


def test_a_checkpoint_for_another_rig_is_refused_before_anything_opens(tmp_path, capsys):
    rig_path, _ = write_rig(tmp_path)
    data = synthetic_set(episodes=2)  # two 2-joint arms, cameras cam_high and cam_wrist
    train(make_config("act", "test", ["train.steps=1"]), data, tmp_path / "run", show_progress=False)
    assert cli(["--rig", str(rig_path), "deploy", "--checkpoint", str(tmp_path / "run"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "does not match rig 'sim-aloha'" in err and "cam_wrist" in err and "expects 2 joints" in err
    assert "Traceback" not in err


def test_a_network_planner_without_keys_is_refused(tmp_path, capsys):
    rig_path, _ = write_rig(tmp_path)
    args = [
        "--rig",
        str(rig_path),
        "deploy",
        "--remote",
        "tcp://10.1.2.3:5555",
        "--checkpoint",
        str(tiny_checkpoint()),
    ]
    assert cli(args) == 1
    err = capsys.readouterr().err
    assert "tcp://10.1.2.3:5555 is reachable from the network" in err and "robot-stack keys generate" in err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--execute", "0.5"], "--execute applies to --mode latest, not ensemble"),
        (["--mode", "latest", "--execute", "-1"], "--execute -1.0 s is not a time of 0 s or more"),
        (["--mode", "latest", "--fade", "0.1"], "--fade applies to --mode ensemble, not latest"),
        (["--fade", "nan"], "--fade nan s is not a time of 0 s or more"),
    ],
)
def test_an_execute_horizon_or_fade_outside_its_mode_is_refused(tmp_path, capsys, flags, message):
    rig_path, _ = write_rig(tmp_path)
    args = ["--rig", str(rig_path), "deploy", "--checkpoint", str(tiny_checkpoint()), "--quiet", *flags]
    assert cli(args) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
