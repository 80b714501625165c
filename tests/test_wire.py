"""Wire messages: a JSON header plus raw array frames; everything validated before use, no pickle."""

import json
from pathlib import Path

import numpy as np
import pytest

from robot_stack.wire import (
    COMMANDS,
    ChunkMessage,
    Command,
    DecodeError,
    DropCounters,
    Event,
    Observation,
    Reply,
    Telemetry,
    WireLimits,
    check_finite,
    decode,
    decode_chunk,
    decode_command,
    decode_message,
    decode_observation,
    encode,
)

REPO = Path(__file__).resolve().parent.parent


def observation(**kw):
    rng = np.random.default_rng(0)
    fields = {
        "t": 123.456,
        "state": rng.normal(size=14).astype(np.float32),
        "images": {"cam_high": rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)},
        "seq": 7,
        "episode": 2,
        "t_images": {"cam_high": 123.44},
        "delay_s": 0.12,
    }
    return Observation(**{**fields, **kw})


def header_of(frames):
    return json.loads(frames[0])


def with_header(frames, **changes):
    header = header_of(frames)
    header.update(changes)
    return [json.dumps(header).encode(), *frames[1:]]


def test_observation_round_trip_is_exact_and_zero_copy():
    sent = observation()
    frames = sent.encode()
    assert len(frames) == 3 and len(frames[0]) < 400  # a small header, then raw bytes
    got = decode_observation(frames, state_dim=14, cameras=["cam_high"])
    assert got.t == sent.t and got.seq == 7 and got.episode == 2 and got.delay_s == 0.12
    assert got.t_images == {"cam_high": 123.44}
    assert np.array_equal(got.state, sent.state) and got.state.dtype == np.float32
    assert np.array_equal(got.images["cam_high"], sent.images["cam_high"])
    assert not got.state.flags.writeable
    assert np.shares_memory(got.images["cam_high"], np.frombuffer(frames[2], np.uint8))
    assert set(got.as_policy_input()) == {"images", "state", "t"}


def test_chunk_and_json_kinds_round_trip():
    actions = np.arange(24, dtype=np.float32).reshape(8, 3)
    chunk = decode_chunk(
        ChunkMessage(
            actions, t0=5.5, dt=0.1, seq=3, obs_seq=9, episode=1, policy="act", compute_s=0.03
        ).encode(),
        action_dim=3,
    )
    assert np.array_equal(chunk.actions, actions) and (chunk.t0, chunk.dt, chunk.seq) == (5.5, 0.1, 3)
    assert (chunk.obs_seq, chunk.episode, chunk.policy, chunk.compute_s) == (9, 1, "act", 0.03)
    assert chunk.times == pytest.approx(5.5 + 0.1 * np.arange(8))
    for message in (
        Telemetry(1.0, {"period_ms": {"p50": 20.0}, "overruns": 0}, seq=4),
        Event(2.0, "chunk_rejected", "warning", "NaN in actions 3"),
        Command("takeover", {"arm": "left"}, t=3.0, seq=5),
        Reply(True, {"state": "running"}, seq=5),
        Reply(False, error="not running"),
    ):
        assert decode_message(message.encode()) == message


def test_every_command_encodes_and_unknown_ones_are_refused():
    for cmd in COMMANDS:
        assert decode_command(Command(cmd).encode()).cmd == cmd
    with pytest.raises(ValueError):
        Command("reboot").encode()
    forged = encode("command", 0, 0.0, meta={"cmd": "reboot"})
    with pytest.raises(DecodeError) as caught:
        decode_command(forged)
    assert caught.value.reason == "invalid"


def test_encode_refuses_what_decode_would_refuse():
    with pytest.raises(ValueError, match="dtype"):
        encode("x", 0, 0.0, {"a": np.array(["text"])})
    with pytest.raises(ValueError, match="dtype"):
        encode("x", 0, 0.0, {"a": np.array([object()])})
    with pytest.raises(ValueError, match="not finite"):
        encode("x", 0, float("nan"))
    with pytest.raises(ValueError, match="JSON"):
        encode("x", 0, 0.0, meta={"v": float("inf")})
    with pytest.raises(ValueError, match="JSON"):
        encode("x", 0, 0.0, meta={"v": object()})
    with pytest.raises(ValueError, match="identifier"):
        encode("x", 0, 0.0, {"bad name!": np.zeros(1)})
    with pytest.raises(ValueError, match="severity"):
        Event(0.0, "x", "panic").encode()


def test_big_endian_and_noncontiguous_arrays_go_out_little_endian_and_dense():
    a = np.arange(12, dtype=">f8").reshape(3, 4)[:, ::2]
    got = decode(encode("x", 0, 0.0, {"a": a})).arrays["a"]
    assert np.array_equal(got, a) and got.dtype == np.dtype("<f8")


GOOD = observation().encode()


@pytest.mark.parametrize(
    "frames, reason",
    [
        ([], "malformed"),
        ([b"not json"], "malformed"),
        ([b"\xff\xfe"], "malformed"),
        ([b"[1, 2]"], "malformed"),
        ([b"[" * 5000 + b"]" * 5000], "malformed"),  # nesting deep enough to blow the parser's stack
        (with_header(GOOD, v=2), "version"),
        (with_header(GOOD, kind=5), "malformed"),
        (with_header(GOOD, kind="chunk"), "kind"),
        (with_header(GOOD, seq=-1), "malformed"),
        (with_header(GOOD, seq=True), "malformed"),
        (with_header(GOOD, seq="1"), "malformed"),
        ([GOOD[0].replace(b'"t":123.456', b'"t":NaN'), *GOOD[1:]], "malformed"),
        ([GOOD[0].replace(b'"t":123.456', b'"t":Infinity'), *GOOD[1:]], "malformed"),
        (with_header(GOOD, meta=[1]), "malformed"),
        (GOOD[:2], "malformed"),  # a frame missing
        ([*GOOD, b"extra"], "malformed"),
        (with_header(GOOD, arrays="state"), "malformed"),
    ],
)
def test_malformed_headers_are_refused_with_a_reason(frames, reason):
    with pytest.raises(DecodeError) as caught:
        decode_observation(frames)
    assert caught.value.reason == reason


def descriptors(**changes):
    header = header_of(GOOD)
    header["arrays"][1].update(changes)
    return [json.dumps(header).encode(), *GOOD[1:]]


@pytest.mark.parametrize(
    "frames, reason",
    [
        (descriptors(dtype="object"), "dtype"),
        (descriptors(dtype="float16"), "dtype"),
        (descriptors(dtype="<U4"), "dtype"),
        (descriptors(dtype=None), "dtype"),
        (descriptors(shape=[6, 8, 3, 1, 1]), "shape"),  # rank above the limit
        (descriptors(shape=[-6, -8, 3]), "shape"),
        (descriptors(shape=[6.0, 8, 3]), "shape"),
        (descriptors(shape=[True, 8, 3]), "shape"),
        (descriptors(shape="6,8,3"), "shape"),
        (descriptors(shape=[6, 8, 4]), "shape"),  # byte count does not match
        (descriptors(name="state"), "malformed"),  # duplicate
        (descriptors(name="../../etc"), "malformed"),
        (descriptors(name=3), "malformed"),
        ([GOOD[0], GOOD[1][:-1], GOOD[2]], "shape"),
    ],
)
def test_array_descriptors_are_checked_against_the_frames(frames, reason):
    with pytest.raises(DecodeError) as caught:
        decode_observation(frames)
    assert caught.value.reason == reason


def test_size_limits():
    limits = WireLimits(max_message_bytes=1000, max_header_bytes=300, max_arrays=2)
    big = observation(images={"cam_high": np.zeros((20, 20, 3), np.uint8)}).encode()
    for frames, limit in [
        (big, limits),
        (observation().encode(), WireLimits(max_header_bytes=100)),
        (observation(images={f"c{i}": np.zeros((1, 1, 3), np.uint8) for i in range(3)}).encode(), limits),
    ]:
        with pytest.raises(DecodeError) as caught:
            decode_observation(frames, limit)
        assert caught.value.reason == "oversized"
    assert decode_observation(observation().encode(), limits).seq == 7


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"state": np.zeros((2, 7), np.float32)}, "shape"),
        ({"state": np.zeros(13, np.float32)}, "shape"),  # state_dim 14 expected
        ({"state": np.full(14, np.nan, np.float32)}, "nonfinite"),
        ({"images": {"cam_high": np.zeros((6, 8, 3), np.float32)}}, "shape"),
        ({"images": {"cam_high": np.zeros((6, 8), np.uint8)}}, "shape"),
        ({"images": {"cam_low": np.zeros((6, 8, 3), np.uint8)}}, "invalid"),  # cam_high missing
    ],
)
def test_observation_content_is_checked(changes, reason):
    with pytest.raises(DecodeError) as caught:
        decode_observation(observation(**changes).encode(), state_dim=14, cameras=["cam_high"])
    assert caught.value.reason == reason


def test_observation_without_a_state_or_with_strangers_is_refused():
    frames = encode("observation", 0, 1.0, {"joints": np.zeros(3, np.float32)})
    with pytest.raises(DecodeError, match="state"):
        decode_observation(frames)
    with pytest.raises(DecodeError, match="float32"):
        decode_observation(encode("observation", 0, 1.0, {"state": np.zeros(3, np.float64)}))
    frames = encode("observation", 0, 1.0, {"state": np.zeros(3, np.float32), "extra": np.zeros(1)})
    with pytest.raises(DecodeError, match="unknown array"):
        decode_observation(frames)
    for meta in ({"episode": "1"}, {"t_images": {"c": "x"}}, {"delay_s": -1}):
        with pytest.raises(DecodeError):
            decode_observation(encode("observation", 0, 1.0, {"state": np.zeros(3, np.float32)}, meta))


def test_chunk_checks_and_nan_actions_left_to_the_safety_layer():
    nan = ChunkMessage(np.full((4, 3), np.nan, np.float32), 1.0, 0.02).encode()
    assert np.isnan(decode_chunk(nan).actions).all()  # the ensembler rejects it and the executor logs it
    with pytest.raises(DecodeError) as caught:
        check_finite(decode(nan).arrays)
    assert caught.value.reason == "nonfinite"
    bad = [
        ChunkMessage(np.zeros((4, 3), np.float32), 1.0, 0.0).encode(),
        ChunkMessage(np.zeros((4, 3), np.float32), 1.0, -0.02).encode(),
        ChunkMessage(np.zeros((0, 3), np.float32), 1.0, 0.02).encode(),
        ChunkMessage(np.zeros((4, 3), np.float64), 1.0, 0.02).encode(),  # encode casts: fine
        encode("chunk", 0, 1.0, {"actions": np.zeros((4, 3), np.float64)}, {"dt": 0.02}),
        encode("chunk", 0, 1.0, {"actions": np.zeros((4, 3), np.float32), "x": np.zeros(1)}, {"dt": 0.02}),
        encode("chunk", 0, 1.0, {"actions": np.zeros((4, 3), np.float32)}, {"dt": 0.02, "policy": 3}),
    ]
    outcomes = []
    for frames in bad:
        try:
            decode_chunk(frames, action_dim=3)
            outcomes.append("ok")
        except DecodeError as exc:
            outcomes.append(exc.reason)
    assert outcomes == ["malformed", "malformed", "shape", "ok", "shape", "malformed", "malformed"]
    with pytest.raises(DecodeError, match="expected 5"):
        decode_chunk(ChunkMessage(np.zeros((4, 3), np.float32), 1.0, 0.02).encode(), action_dim=5)


def test_random_corruption_only_ever_raises_decode_error():
    rng = np.random.default_rng(3)
    sources = [GOOD, ChunkMessage(np.ones((5, 4), np.float32), 1.0, 0.1).encode(), Command("stop").encode()]
    for i in range(3000):
        frames = [bytearray(f) for f in sources[i % len(sources)]]
        target = frames[int(rng.integers(len(frames)))]
        for _ in range(int(rng.integers(1, 4))):
            if target:
                target[int(rng.integers(len(target)))] = int(rng.integers(256))
        if rng.random() < 0.2:
            frames = frames[: int(rng.integers(len(frames) + 1))]
        try:
            decode_message(frames)
        except DecodeError:
            pass


def test_drop_counters():
    counters = DropCounters()
    counters.count("malformed")
    counters.count("oversized", 3)
    assert counters["malformed"] == 1 and counters["oversized"] == 3 and counters["dtype"] == 0
    assert counters.total == 4 and counters.as_dict() == {"malformed": 1, "oversized": 3}


def test_no_pickle_on_the_wire():
    for folder in ("robot_stack/wire", "deploy"):
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text()
            assert "import pickle" not in text and "allow_pickle=True" not in text, path
            assert "recv_pyobj" not in text and "send_pyobj" not in text, path
