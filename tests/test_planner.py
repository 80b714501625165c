"""The planning thread: newest observation → policy → chunk stamped with the capture time."""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import zmq

from deploy.curve import generate_keys
from deploy.ensemble import TemporalEnsembler
from deploy.planner import ObservationDropped, Planner
from deploy.transport import ExecutorLink, PlannerLink
from policies.inference import ActionChunk, Policy
from policies.presets import make_config
from policies.synthetic import synthetic_set
from policies.trainer import train
from robot_stack.app.cli import main
from robot_stack.errors import RobotStackError
from robot_stack.wire import Observation

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parent.parent
ARMS = {"left_follower": ["waist", "gripper"], "right_follower": ["waist", "gripper"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakePolicy:
    """Chunk = state + i·0.01 per action; records the calls."""

    dt, chunk_length = 0.1, 5

    def __init__(self, supports_prefix=False, fail_with=None, delay_s=0.0):
        self.supports_prefix = supports_prefix
        self.fail_with, self.delay_s = fail_with, delay_s
        self.calls, self.resets = [], 0

    def predict(self, observation, prefix=None, previous=None):
        self.calls.append({"t": observation["t"], "prefix": prefix, "previous": previous})
        if self.fail_with is not None:
            raise self.fail_with
        time.sleep(self.delay_s)
        state = np.asarray(observation["state"], np.float32)
        actions = state[None] + 0.01 * np.arange(self.chunk_length, dtype=np.float32)[:, None]
        if prefix is not None:
            actions[: len(prefix)] = prefix
        return ActionChunk(actions, observation["t"], self.dt)

    def reset(self):
        self.resets += 1


def obs(seq=1, t=10.0, episode=0, state=(0.1, 0.2, 0.3, 0.4), delay_s=None):
    return Observation(
        t,
        np.asarray(state, np.float32),
        {"cam_high": np.zeros((24, 32, 3), np.uint8)},
        seq=seq,
        episode=episode,
        delay_s=delay_s,
    )


def round_trip(executor, observation, timeout_s=5.0):
    assert executor.ready() and executor.send_observation(observation)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        chunks = executor.poll(0.05)
        if chunks:
            return chunks[0]
    raise AssertionError("no chunk came back")


def test_chunk_is_stamped_with_the_observation_and_measured():
    policy = FakePolicy(delay_s=0.01)
    with Planner(policy, PlannerLink("inproc://p1"), policy_id="fake") as planner:
        with ExecutorLink("inproc://p1") as executor:
            chunk = round_trip(executor, obs(seq=7, t=123.25))
    assert chunk.t0 == 123.25 and chunk.obs_seq == 7 and chunk.policy == "fake" and chunk.dt == 0.1
    assert np.allclose(chunk.actions[:, 0], 0.1 + 0.01 * np.arange(5))
    assert chunk.compute_s >= 0.01
    stats = planner.stats()
    assert stats["planned"] == 1 and stats["latency_ms"]["p50"] >= 10 and stats["dropped"] == {}
    assert not planner.is_running


def test_a_new_episode_resets_the_policy_history():
    policy = FakePolicy()
    planner = Planner(policy, PlannerLink("inproc://unused"))
    planner.plan(obs(episode=0))
    planner.plan(obs(episode=0, t=10.1))
    planner.plan(obs(episode=1, t=10.2))
    assert policy.resets == 2  # the first observation, then the change of episode


def test_planner_survives_bad_observations_and_a_failing_policy():
    policy = FakePolicy(fail_with=RobotStackError("observation has no image from camera cam_low"))
    with Planner(policy, PlannerLink("inproc://p2", state_dim=4)) as planner:
        with ExecutorLink("inproc://p2") as executor:
            executor.send_observation(obs(seq=1))
            raw = zmq.Context.instance().socket(zmq.DEALER)
            raw.connect("inproc://p2")
            raw.send_multipart([b"garbage"])
            raw.send_multipart(obs(seq=2, state=(1.0, 2.0)).encode())  # wrong state size
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not executor.events:
                executor.poll(0.05)
            assert executor.events[0].name == "observation_dropped" and "cam_low" in executor.events[0].detail
            assert executor.ready()  # the answer freed the slot
            policy.fail_with = ZeroDivisionError("inside the network")
            executor.send_observation(obs(seq=3, t=11.0))
            while time.monotonic() < deadline and len(executor.events) < 2:
                executor.poll(0.05)
            policy.fail_with = None
            chunk = round_trip(executor, obs(seq=4, t=12.0))
            raw.close(linger=0)
    assert chunk.obs_seq == 4 and planner.planned == 1
    assert planner.dropped == {"policy_refused": 1, "policy_error": 1}
    assert "ZeroDivisionError" in planner.last_error
    assert planner.link.channel.drops.as_dict() == {"malformed": 1, "shape": 1}


def test_added_latency_delays_chunks_and_stop_interrupts_it():
    with Planner(FakePolicy(), PlannerLink("inproc://p3"), added_latency_s=0.15) as planner:
        with ExecutorLink("inproc://p3") as executor:
            chunk = round_trip(executor, obs())
            assert chunk.compute_s >= 0.15
            assert planner.stats()["latency_ms"]["p50"] >= 150
    slow = Planner(FakePolicy(), PlannerLink("inproc://p4"), added_latency_s=30.0).start()
    with ExecutorLink("inproc://p4") as executor:
        executor.send_observation(obs())
        time.sleep(0.2)
    started = time.monotonic()
    slow.stop()
    assert time.monotonic() - started < 1.0


def test_rtc_passes_the_committed_actions_and_the_rest_of_the_plan():
    policy = FakePolicy(supports_prefix=True)
    planner = Planner(policy, PlannerLink("inproc://unused"), mode="rtc", rtc_margin_s=0.0)
    first = planner.plan(obs(t=10.0))
    assert policy.calls[0]["prefix"] is None and policy.calls[0]["previous"] is None  # nothing planned yet
    planner._latencies.append(0.25)  # measured: chunks arrive 250 ms after capture
    second = planner.plan(obs(t=10.1, state=(5.0, 5.0, 5.0, 5.0)))
    call = policy.calls[1]
    plan = TemporalEnsembler("rtc")
    plan.add(first.actions, first.t0, first.dt)
    assert len(call["prefix"]) == 3  # ceil(0.25 / 0.1): what runs before the new chunk arrives
    assert np.allclose(call["prefix"], plan.plan(10.1, 3, 0.1))
    assert np.allclose(call["previous"], plan.plan(10.1, 5, 0.1)) and len(call["previous"]) == 4
    assert np.allclose(second.actions[:3], call["prefix"])
    # the executor's own delay measurement wins when larger; the prefix stays shorter than the chunk
    planner.plan(obs(t=10.2, delay_s=10.0))
    assert len(policy.calls[2]["prefix"]) == 4
    assert planner.expected_delay(obs(delay_s=0.9)) == 0.9


def test_rtc_needs_a_policy_that_takes_a_prefix():
    with pytest.raises(RobotStackError, match="diffusion or flow"):
        Planner(FakePolicy(supports_prefix=False), PlannerLink("inproc://unused"), mode="rtc")
    with pytest.raises(RobotStackError, match="mode"):
        Planner(FakePolicy(), PlannerLink("inproc://unused"), mode="average")
    with pytest.raises(ObservationDropped):
        Planner(FakePolicy(fail_with=ValueError("x")), PlannerLink("inproc://unused")).plan(obs())


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Tiny trained checkpoints (test preset, 2 steps) for the synthetic two-arm layout."""
    data = synthetic_set(episodes=2, seed=1, arms=ARMS, cameras=("cam_high",), frame_size=(24, 32))
    out = {}
    for kind in ("act", "flow"):
        folder = tmp_path_factory.mktemp(kind)
        train(make_config(kind, "test", ["train.steps=2"]), data, folder, show_progress=False)
        out[kind] = folder
    return out


@pytest.fixture(params=["inproc", "ipc", "tcp+curve"])
def address(request, tmp_path):
    if request.param == "inproc":
        return f"inproc://planner-{request.node.name}", None
    if request.param == "ipc":
        return f"ipc://{tmp_path}/plan.sock", None
    generate_keys(tmp_path / "keys")
    return f"tcp://127.0.0.1:{free_port()}", tmp_path / "keys"


def test_real_policy_round_trip(checkpoints, address):
    endpoint, keys = address
    policy = Policy.load(checkpoints["act"])
    link = PlannerLink(endpoint, keys_dir=keys, state_dim=4, cameras=["cam_high"])
    with Planner(policy, link, policy_id="act-test") as planner:
        with ExecutorLink(endpoint, keys_dir=keys, action_dim=4) as executor:
            chunks = [round_trip(executor, obs(seq=i, t=20.0 + 0.02 * i)) for i in range(3)]
    assert [c.t0 for c in chunks] == pytest.approx([20.0, 20.02, 20.04])
    assert all(c.actions.shape == (8, 4) and np.isfinite(c.actions).all() for c in chunks)
    assert planner.stats()["planned"] == 3
    ensembler = TemporalEnsembler("ensemble", m=0.01)
    for chunk in chunks:
        ensembler.add_chunk(chunk)
    assert ensembler.sample(20.05).depth == 3


def test_real_flow_policy_in_rtc_mode(checkpoints):
    policy = Policy.load(checkpoints["flow"])
    planner = Planner(policy, PlannerLink("inproc://unused"), mode="rtc", rtc_margin_s=0.05)
    first = planner.plan(obs(t=30.0))
    second = planner.plan(obs(t=30.02))
    assert planner.last_prefix_length >= 3  # ceil((compute + 50 ms) / 20 ms)
    shadow = TemporalEnsembler("rtc")
    shadow.add(first.actions, first.t0, first.dt)
    prefix = shadow.plan(30.02, planner.last_prefix_length, first.dt)
    assert np.allclose(second.actions[: len(prefix)], prefix, atol=1e-6)  # committed actions kept exactly


def test_policy_server_command(checkpoints, tmp_path, capsys):
    assert (
        main(["policy-server", "--checkpoint", str(checkpoints["act"]), "--bind", "tcp://0.0.0.0:5999"]) == 1
    )
    assert "without Curve keys" in capsys.readouterr().err
    keys = tmp_path / "keys"
    generate_keys(keys)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    argv = [
        sys.executable,
        "-m",
        "robot_stack.app.cli",
        "--rig",
        str(tmp_path / "none.yaml"),
        "policy-server",
    ]
    argv += ["--checkpoint", str(checkpoints["act"]), "--bind", endpoint, "--keys", str(keys), "--quiet"]
    server = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with ExecutorLink(endpoint, keys_dir=keys, action_dim=4) as executor:
            chunk = round_trip(executor, obs(seq=3, t=40.0), timeout_s=30.0)
        assert chunk.t0 == 40.0 and chunk.policy == checkpoints["act"].name
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=10)
    finally:
        server.kill() if server.poll() is None else None
    assert server.returncode == 0, output
    assert "curve on" in output and "1 chunks sent" in output
