"""The sim rig's control endpoint over real ZMQ sockets: reset, status, operator, bad requests."""

import pytest
import zmq

from drivers.sim.control import SimControlClient, SimControlServer
from drivers.sim.rig import SimRig
from robot_stack.errors import RobotStackError


@pytest.fixture
def served(tmp_path, sim_rig_spec):
    rig = sim_rig_spec
    endpoint = f"ipc://{tmp_path}/control.sock"
    with SimRig(rig, realtime=False) as sim, SimControlServer(sim, endpoint) as server:
        with SimControlClient(endpoint, timeout_s=2) as client:
            yield sim, server, client


def test_reset_status_and_operator(served):
    sim, _, client = served
    status = client.call("reset", seed=11, task="insertion")
    assert (status["task"], status["seed"], status["success"]) == ("insertion", 11, False)
    assert sim.task_name == "insertion" and sim.scene.seed == 11
    assert client.call("operator", enabled=False)["operator"] is False
    assert client.call("status")["operator"] is False


def test_bad_requests_are_refused_and_counted(served, tmp_path):
    _, server, client = served
    with pytest.raises(RobotStackError, match="seed must be an integer, got 'x'"):
        client.call("reset", seed="x")
    with pytest.raises(RobotStackError, match="unknown command 'fly'"):
        client.call("fly")
    with pytest.raises(RobotStackError, match="unknown simulation task 'juggling'"):
        client.call("reset", task="juggling")
    raw = zmq.Context.instance().socket(zmq.REQ)
    raw.setsockopt(zmq.RCVTIMEO, 2000)
    raw.connect(f"ipc://{tmp_path}/control.sock")
    raw.send(b"\xff not json")
    assert b'"ok": false' in raw.recv()
    raw.close(linger=0)
    assert server.malformed == 4
    assert client.call("status")["ok"] is True  # still serving


def test_client_without_a_server_times_out_clearly(tmp_path):
    with SimControlClient(f"ipc://{tmp_path}/nobody.sock", timeout_s=0.2) as client:
        with pytest.raises(RobotStackError, match="did not answer") as info:
            client.call("status")
    assert "robot-stack sim" in info.value.hint
