"""The planner ↔ executor link over ZMQ: inproc, ipc, tcp; drops counted; Curve on the network."""

import socket
import stat
import threading
import time

import numpy as np
import pytest
import zmq

from deploy.curve import (
    CurveClientKeys,
    CurveServerKeys,
    generate_keys,
    is_loopback,
    needs_curve,
)
from deploy.transport import Channel, ExecutorLink, PlannerLink, request
from robot_stack.app.cli import main
from robot_stack.errors import RobotStackError
from robot_stack.wire import ChunkMessage, Command, Observation, Reply, WireLimits, decode_command, encode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def keys(tmp_path):
    generate_keys(tmp_path / "keys")
    return tmp_path / "keys"


@pytest.fixture(params=["inproc", "ipc", "tcp", "tcp+curve"])
def endpoint(request, tmp_path):
    """(endpoint, keys dir or None) for every transport."""
    if request.param == "inproc":
        return f"inproc://link-{id(request)}", None
    if request.param == "ipc":
        return f"ipc://{tmp_path}/plan.sock", None
    if request.param == "tcp":
        return f"tcp://127.0.0.1:{free_port()}", None
    generate_keys(tmp_path / "keys")
    return f"tcp://127.0.0.1:{free_port()}", tmp_path / "keys"


def obs(seq=1, t=10.0, state_dim=3):
    return Observation(
        t, np.arange(state_dim, dtype=np.float32), {"cam": np.zeros((4, 6, 3), np.uint8)}, seq=seq
    )


def wait_for(condition, timeout_s=3.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_round_trip_on_every_transport(endpoint):
    address, keys_dir = endpoint
    with PlannerLink(address, keys_dir=keys_dir, state_dim=3, cameras=["cam"]) as planner:
        with ExecutorLink(address, keys_dir=keys_dir, action_dim=3) as executor:
            assert executor.ready() and executor.send_observation(obs(seq=5))
            assert not executor.ready() and executor.in_flight == 1  # one observation in flight at a time
            request = planner.recv_latest(3.0)
            assert request is not None and request.observation.seq == 5 and request.superseded == 0
            assert np.array_equal(request.observation.images["cam"], np.zeros((4, 6, 3), np.uint8))
            chunk = ChunkMessage(
                np.ones((4, 3), np.float32), t0=request.observation.t, dt=0.02, seq=1, obs_seq=5
            )
            assert planner.send_chunk(request.peer, chunk)
            got = executor.poll(3.0)
            assert len(got) == 1 and got[0].t0 == 10.0 and got[0].obs_seq == 5
            assert executor.ready() and executor.in_flight == 0
            assert planner.channel.curve == (keys_dir is not None)


def test_planner_keeps_only_the_newest_observation_and_says_so():
    with (
        PlannerLink("inproc://latest") as planner,
        ExecutorLink("inproc://latest", max_in_flight=3) as executor,
    ):
        for seq, t in [(1, 1.0), (2, 1.02), (3, 1.04)]:
            assert executor.send_observation(obs(seq, t))
        assert wait_for(lambda: planner.channel.poll(0))
        time.sleep(0.05)  # let all three arrive
        request = planner.recv_latest(1.0)
        assert request.observation.seq == 3 and request.superseded == 2 and planner.superseded == 2
        executor.poll(1.0)
        assert wait_for(lambda: executor.poll() is not None and executor.in_flight == 1)
        assert [e.name for e in executor.events] == ["observation_superseded"] * 2


def test_garbage_and_oversized_messages_are_dropped_and_counted(tmp_path):
    address = f"ipc://{tmp_path}/garbage.sock"
    limits = WireLimits(max_message_bytes=4096)
    with PlannerLink(address, limits=limits, state_dim=3) as planner:
        raw = zmq.Context.instance().socket(zmq.DEALER)
        raw.connect(address)
        try:
            raw.send_multipart([b"\x00\xffnot a header", b"x"])
            raw.send_multipart([b"{}"])
            raw.send_multipart(
                encode("observation", 1, 1.0, {"state": np.zeros(3, np.float32)}, {"episode": "x"})
            )
            raw.send_multipart(obs(state_dim=4).encode())  # wrong state size for this planner
            raw.send_multipart([b"{" + b" " * 2000 + b"}", b"y" * 2100])  # 4.1 kB in frames of ≤ 4 kB
            raw.send_multipart(
                encode("chunk", 0, 1.0, {"actions": np.zeros((2, 3), np.float32)}, {"dt": 0.1})
            )
            raw.send_multipart(obs(seq=9).encode())
            got = []
            assert wait_for(lambda: got.append(planner.recv_latest(0.1)) or got[-1] is not None)
            assert got[-1].observation.seq == 9  # the receiver survived all of it
            assert planner.channel.drops.as_dict() == {
                "malformed": 2,
                "version": 1,
                "shape": 1,
                "oversized": 1,
                "kind": 1,
            }
            # every undecodable message is answered, so a confused client learns why
            replies = []
            assert wait_for(
                lambda: raw.poll(0) and replies.append(raw.recv_multipart()) is None and len(replies) >= 6
            )
        finally:
            raw.close(linger=0)


def test_a_single_frame_over_the_limit_never_reaches_python():
    limits = WireLimits(max_message_bytes=4096)
    with PlannerLink("inproc://huge", limits=limits) as planner:
        raw = zmq.Context.instance().socket(zmq.DEALER)
        raw.connect("inproc://huge")
        try:
            raw.send_multipart([b"{}", b"z" * 10_000])  # ZMQ_MAXMSGSIZE: refused by ZeroMQ itself
            assert planner.recv_latest(0.2) is None
        finally:
            raw.close(linger=0)
        with ExecutorLink("inproc://huge") as executor:  # a well-behaved peer still gets through
            executor.send_observation(obs(seq=4))
            assert planner.recv_latest(2.0).observation.seq == 4


def test_executor_drops_garbage_from_the_planner_side():
    router = Channel(zmq.ROUTER, "inproc://fake-planner", bind=True)
    with router, ExecutorLink("inproc://fake-planner", action_dim=3) as executor:
        executor.send_observation(obs(seq=1))
        peer, _ = router.recv(lambda frames: frames, 2.0)
        router.send([b"garbage"], peer)
        router.send(
            ChunkMessage(np.zeros((2, 5), np.float32), 1.0, 0.02, obs_seq=1).encode(), peer
        )  # 5 joints
        router.send(ChunkMessage(np.full((2, 3), np.nan, np.float32), 1.0, 0.02, obs_seq=1).encode(), peer)
        chunks = []
        assert wait_for(lambda: chunks.extend(executor.poll(0.05)) or executor.channel.drops.total == 2)
        assert executor.channel.drops.as_dict() == {"malformed": 1, "shape": 1}
        assert wait_for(lambda: chunks.extend(executor.poll(0.05)) or len(chunks) == 1)
        assert np.isnan(chunks[0].actions).all()  # well-formed: the ensembler's NaN check rejects it


def test_executor_gives_up_on_an_unanswered_observation():
    now = [0.0]
    with ExecutorLink("inproc://nobody", resend_after_s=0.5, clock=lambda: now[0]) as executor:
        executor.send_observation(obs(seq=1))
        assert not executor.ready()
        now[0] = 0.6
        assert executor.ready() and executor.given_up == 1


def test_sending_to_a_full_queue_does_not_block():
    with ExecutorLink(f"tcp://127.0.0.1:{free_port()}", max_in_flight=1) as executor:  # nobody listening
        results = [executor.send_observation(obs(seq=i)) for i in range(5)]
        assert results[-1] is False and executor.send_refused >= 1


@pytest.mark.parametrize(
    "address, loopback",
    [
        ("inproc://plan", True),
        ("ipc:///tmp/x.sock", True),
        ("tcp://127.0.0.1:5555", True),
        ("tcp://127.3.2.1:5555", True),
        ("tcp://localhost:5555", True),
        ("tcp://[::1]:5555", True),
        ("tcp://*:5555", False),
        ("tcp://0.0.0.0:5555", False),
        ("tcp://10.0.0.5:5555", False),
        ("tcp://eth0:5555", False),
        ("tcp://gpu-host.lab:5555", False),
        ("tcp://127.0.0.1:4000;10.0.0.5:5555", False),
    ],
)
def test_which_endpoints_reach_the_network(address, loopback):
    assert is_loopback(address) == loopback
    assert needs_curve(address) == (not loopback)


def test_network_endpoints_without_keys_are_refused_before_any_socket():
    for address, bind in [
        ("tcp://*:5555", True),
        ("tcp://0.0.0.0:5555", True),
        ("tcp://10.9.8.7:5555", False),
    ]:
        with pytest.raises(RobotStackError, match="without Curve keys"):
            Channel(zmq.ROUTER if bind else zmq.DEALER, address, bind=bind)
    with pytest.raises(RobotStackError, match="inproc://, ipc:// or tcp://"):
        PlannerLink("udp://1.2.3.4:5")


def test_client_without_keys_is_refused_on_a_curve_endpoint(keys):
    address = f"tcp://127.0.0.1:{free_port()}"
    with PlannerLink(address, keys_dir=keys) as planner:
        plain = zmq.Context.instance().socket(zmq.DEALER)  # no Curve at all
        plain.connect(address)
        try:
            plain.send_multipart(obs().encode())
            assert planner.recv_latest(0.3) is None
            assert wait_for(
                lambda: planner.channel.watch_handshakes() or planner.channel.refused_handshakes >= 1
            )
        finally:
            plain.close(linger=0)
        assert planner.channel.received == 0


def test_client_with_unknown_keys_is_refused(keys, tmp_path):
    stranger = tmp_path / "stranger"
    generate_keys(stranger)
    (stranger / "server.key").write_bytes((keys / "server.key").read_bytes())  # knows the server, not known
    address = f"tcp://127.0.0.1:{free_port()}"
    with PlannerLink(address, keys_dir=keys) as planner, ExecutorLink(address, keys_dir=stranger) as executor:
        executor.send_observation(obs())
        assert planner.recv_latest(0.3) is None
        assert wait_for(lambda: planner.channel.watch_handshakes() or planner.channel.refused_handshakes >= 1)
        with ExecutorLink(address, keys_dir=keys) as friend:  # the authorised client still gets in
            friend.send_observation(obs(seq=2))
            assert planner.recv_latest(3.0).observation.seq == 2


def test_two_curve_servers_share_one_authenticator(keys):
    a, b = (PlannerLink(f"tcp://127.0.0.1:{free_port()}", keys_dir=keys) for _ in range(2))
    with a, b:
        with ExecutorLink(b.endpoint, keys_dir=keys) as executor:
            executor.send_observation(obs(seq=3))
            assert b.recv_latest(3.0).observation.seq == 3
    with PlannerLink(f"tcp://127.0.0.1:{free_port()}", keys_dir=keys):  # and it restarts after both closed
        pass


def test_generated_keys_have_private_permissions_and_are_kept(tmp_path):
    directory = tmp_path / "k"
    first = generate_keys(directory, ("robot", "lab2"))
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in ("server", "robot", "lab2"):
        assert stat.S_IMODE((directory / f"{name}.key_secret").stat().st_mode) == 0o600
        assert stat.S_IMODE((directory / f"{name}.key").stat().st_mode) == 0o644
    assert sorted(p.name for p in (directory / "clients").iterdir()) == ["lab2.key", "robot.key"]
    assert len(first.created) == 8 and not first.kept
    server = CurveServerKeys.load(directory)
    again = generate_keys(directory, ("robot", "lab3"))  # adds lab3, keeps the rest
    assert CurveServerKeys.load(directory).public == server.public
    assert len(again.created) == 3 and (directory / "clients" / "lab3.key").exists()
    assert CurveClientKeys.load(directory, "lab3").server_public == server.public
    generate_keys(directory, ("robot",), force=True)
    assert CurveServerKeys.load(directory).public != server.public


def test_key_problems_are_named(tmp_path, keys):
    (keys / "robot.key_secret").chmod(0o644)
    with pytest.raises(RobotStackError, match="chmod 600"):
        CurveClientKeys.load(keys)
    with pytest.raises(RobotStackError, match="no secret key"):
        CurveClientKeys.load(keys, "lab9")
    (keys / "server.key").unlink()
    (keys / "robot.key_secret").chmod(0o600)
    with pytest.raises(RobotStackError, match="no public key"):
        CurveClientKeys.load(keys)
    for path in (keys / "clients").iterdir():
        path.unlink()
    with pytest.raises(RobotStackError, match="no authorised client keys"):
        CurveServerKeys.load(keys)
    with pytest.raises(RobotStackError, match="client name"):
        generate_keys(tmp_path / "other", ("server",))


def test_keys_command(tmp_path, capsys):
    directory = tmp_path / "cli-keys"
    assert main(["keys", "generate", str(directory), "--client", "robot", "--client", "lab2"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (directory / "clients" / "lab2.key").exists()
    assert main(["keys", "show", str(directory)]) == 0
    (directory / "lab2.key_secret").chmod(0o640)
    assert main(["keys", "show", str(directory)]) == 1
    assert "chmod 600" in capsys.readouterr().out
    assert main(["keys", "show", str(tmp_path / "missing")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_command_socket_answers_every_request_even_garbage(tmp_path):
    address = f"ipc://{tmp_path}/command.sock"
    with Channel(zmq.REP, address, bind=True) as server:
        assert stat.S_IMODE((tmp_path / "command.sock").stat().st_mode) == 0o600

        def serve(n):
            for _ in range(n):
                got = server.recv(decode_command, 3.0)
                if got is not None:
                    server.send(Reply(True, {"cmd": got[1].cmd}, seq=got[1].seq).encode())

        thread = threading.Thread(target=serve, args=(1,))
        thread.start()
        raw = zmq.Context.instance().socket(zmq.REQ)
        raw.connect(address)
        raw.send(b"garbage")  # the server answers with a failed reply and keeps serving
        assert raw.poll(3000) and b'"ok":false' in raw.recv()
        raw.close(linger=0)
        reply = request(address, Command("status", seq=4), timeout_s=3.0)
        thread.join()
        assert reply.ok and reply.data == {"cmd": "status"} and reply.seq == 4
        assert server.drops.as_dict() == {"malformed": 1}
    with pytest.raises(RobotStackError, match="no reply"):
        request(f"ipc://{tmp_path}/nobody.sock", Command("stop"), timeout_s=0.2)
