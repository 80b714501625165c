"""The planner ↔ executor link alone: wire codec, ZMQ round trip per transport, ensembler cost per tick.

    python bench/deploy_link.py --out docs/bench/deploy_link.json     # 1000 round trips per case
    python bench/deploy_link.py --quick                               # 100

Round trip: the executor's `ExecutorLink` sends an observation and waits for the chunk that an echo
planner (`PlannerLink`, answering at once with a (100, 14) chunk — ACT's size) sends back; the time
is everything but the policy: encode, ZMQ, decode, validation, both directions. inproc runs the echo
in a thread of the same process; ipc and tcp in another process, as a local planner process or a
policy server would. Two observation sizes: one 96×128 camera (the sim-cpu preset) and four 480×640
cameras (ALOHA). Side by side, the peer pattern (GELLO / LeRobot style): the same observation as a
pickled dict over ZMQ REQ/REP on the same tcp loopback.

Ensembler: `TemporalEnsembler.sample` at depth 1, 10 and 100 (ACT's chunk of 100 re-planned every
tick keeps 100 chunks covering each tick) — it runs inside the 20 ms tick.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle  # the peer baseline only; the runtime never uses it
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

CHUNK = np.zeros((100, 14), np.float32)
SIZES = {"1x96x128": [(96, 128)], "4x480x640": [(480, 640)] * 4}


def observation(size: str, seq: int):
    from robot_stack.wire import Observation

    images = {f"cam{i}": np.full((h, w, 3), seq % 255, np.uint8) for i, (h, w) in enumerate(SIZES[size])}
    return Observation(time.monotonic(), np.zeros(14, np.float32), images, seq=seq)


def echo_planner(endpoint: str, keys_dir: str | None, ready=None, stop=None) -> None:
    from deploy.transport import PlannerLink
    from robot_stack.wire import ChunkMessage

    with PlannerLink(endpoint, keys_dir=keys_dir) as link:
        if ready is not None:
            ready.set()
        while stop is None or not stop.is_set():
            request = link.recv_latest(0.05)
            if request is not None:
                o = request.observation
                link.send_chunk(request.peer, ChunkMessage(CHUNK, o.t, 0.02, o.seq, o.seq))


def pickle_echo(endpoint: str, ready=None) -> None:
    import zmq

    sock = zmq.Context.instance().socket(zmq.REP)
    sock.bind(endpoint)
    if ready is not None:
        ready.set()
    while True:
        request = pickle.loads(sock.recv())
        sock.send(pickle.dumps({"actions": CHUNK, "t0": request["t"]}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summary(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1000
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "max_ms": round(float(ms.max()), 4),
    }


def round_trips(endpoint: str, keys_dir: str | None, size: str, n: int) -> dict:
    from deploy.transport import ExecutorLink

    times = []
    with ExecutorLink(endpoint, keys_dir=keys_dir) as executor:
        for seq in range(n + 10):
            o = observation(size, seq)
            t0 = time.perf_counter()
            executor.send_observation(o)
            chunks = []
            while not chunks:
                chunks = executor.poll(2.0)
            if seq >= 10:  # warm-up: connection, Curve handshake
                times.append(time.perf_counter() - t0)
    return summary(times)


def pickle_round_trips(endpoint: str, size: str, n: int) -> dict:
    import zmq

    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.connect(endpoint)
    times = []
    for seq in range(n + 10):
        o = observation(size, seq)
        t0 = time.perf_counter()
        sock.send(pickle.dumps({"t": o.t, "state": o.state, "images": o.images}))
        pickle.loads(sock.recv())
        if seq >= 10:
            times.append(time.perf_counter() - t0)
    sock.close(linger=0)
    return summary(times)


def transport_cases(n: int, tmp: Path) -> dict:
    from deploy.curve import generate_keys

    keys = tmp / "keys"
    generate_keys(keys)
    spawn = mp.get_context("spawn")
    results = {}
    for size in SIZES:
        stop, ready = threading.Event(), threading.Event()
        thread = threading.Thread(
            target=echo_planner, args=("inproc://bench", None, ready, stop), daemon=True
        )
        thread.start()
        ready.wait(5)
        results[f"inproc/{size}"] = round_trips("inproc://bench", None, size, n)
        stop.set()
        thread.join()
        for name, endpoint, keys_dir in [
            ("ipc", f"ipc://{tmp}/bench-{size}.sock", None),
            ("tcp", f"tcp://127.0.0.1:{free_port()}", None),
            ("tcp+curve", f"tcp://127.0.0.1:{free_port()}", str(keys)),
        ]:
            ready = spawn.Event()
            process = spawn.Process(target=echo_planner, args=(endpoint, keys_dir, ready), daemon=True)
            process.start()
            ready.wait(30)
            try:
                results[f"{name}/{size}"] = round_trips(endpoint, keys_dir, size, n)
            finally:
                process.terminate()
                process.join()
            print(f"deploy_link: {name}/{size} {results[f'{name}/{size}']}", file=sys.stderr)
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        ready = spawn.Event()
        process = spawn.Process(target=pickle_echo, args=(endpoint, ready), daemon=True)
        process.start()
        ready.wait(30)
        try:
            results[f"peer_pickle_req_rep_tcp/{size}"] = pickle_round_trips(endpoint, size, n)
        finally:
            process.terminate()
            process.join()
    return results


def codec_cases(n: int) -> dict:
    from robot_stack.wire import ChunkMessage, decode_chunk, decode_observation

    results = {}
    for size in SIZES:
        o = observation(size, 1)
        enc, dec = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            frames = o.encode()
            t1 = time.perf_counter()
            decode_observation(frames)
            dec.append(time.perf_counter() - t1)
            enc.append(t1 - t0)
        results[f"observation/{size}"] = {
            "bytes": sum(len(f) for f in frames),
            "encode": summary(enc),
            "decode": summary(dec),
        }
    enc, dec = [], []
    chunk = ChunkMessage(CHUNK, 1.0, 0.02)
    for _ in range(n):
        t0 = time.perf_counter()
        frames = chunk.encode()
        t1 = time.perf_counter()
        decode_chunk(frames)
        dec.append(time.perf_counter() - t1)
        enc.append(t1 - t0)
    results["chunk/100x14"] = {
        "bytes": sum(len(f) for f in frames),
        "encode": summary(enc),
        "decode": summary(dec),
    }
    return results


def ensembler_cases(n: int) -> dict:
    from deploy.ensemble import TemporalEnsembler

    results = {}
    for depth in (1, 10, 100):
        ens = TemporalEnsembler("ensemble", m=0.01, tick_dt=0.02)
        for i in range(depth):
            ens.add(np.random.default_rng(i).normal(size=(100, 14)).astype(np.float32), i * 0.02, 0.02)
        t = (depth - 1) * 0.02
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            blend = ens.sample(t)
            times.append(time.perf_counter() - t0)
        assert blend.depth == depth
        results[f"sample/depth{depth}"] = summary(times)
    return results


def main() -> None:
    args = _common.parser(__doc__).parse_args()
    n = 100 if args.quick else 1000
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "round_trip": transport_cases(n, Path(tmp)),
            "codec": codec_cases(n),
            "ensembler": ensembler_cases(n),
        }
    # this machine is shared: the load average says how much else was running
    result["load_average_1min"] = {"before": load_before[0], "after": os.getloadavg()[0]}
    _common.write(result, args.out)


if __name__ == "__main__":
    main()
