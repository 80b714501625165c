"""Episode store: image codecs side by side, the writer under a real-time load, and read speed.

    python bench/store.py --out docs/bench/store.json     # the figures in docs/episode_store.md (~3 min)
    python bench/store.py --quick                          # a smoke run (~30 s)

Frames: real renders of the simulated rig's four cameras (drivers/sim, if it renders here), and
camera-like synthetic frames (wood grain, printed boxes, arms; robot_stack/store/synthetic.py)
without and with sensor noise. If the `imagecodecs` package is importable, its JPEG XL and AVIF
encoders are measured too (they are not a dependency of robot_stack).

Sizes are given as GB per hour of four 480×640 cameras at 30 fps, the recording budget of the issue.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

from robot_stack.realtime import realtime_priority  # noqa: E402
from robot_stack.store import Dataset, JpegCodec, decode_jpeg  # noqa: E402
from robot_stack.store.files import tree_bytes  # noqa: E402
from robot_stack.store.synthetic import SyntheticCamera, synthetic_rig  # noqa: E402

FRAMES_PER_HOUR = 4 * 30 * 3600
RAW_GB_PER_HOUR = 480 * 640 * 3 * FRAMES_PER_HOUR / 1e9  # what ALOHA's uncompressed HDF5 would take [calc]
TARGETS = {"gb_per_hour_max": 20.0, "psnr_db_min": 40.0, "frames_per_s_needed": 120}
CAMERAS = ("cam_high", "cam_low", "cam_left_wrist", "cam_right_wrist")


# ---- frames


def sim_frames(n: int) -> tuple[list[np.ndarray], str | None]:
    """Renders of the simulated rig's cameras along a scripted transfer-cube episode."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        from drivers.sim.arms import ARM_SIDES
        from drivers.sim.render import SceneRenderer
        from drivers.sim.scene import SimScene
        from drivers.sim.scripted_operator import ScriptedOperator

        scene = SimScene("transfer_cube", 3)
        operator = ScriptedOperator("transfer_cube", 3, model=scene.model)
        frames = []
        with SceneRenderer(scene) as renderer:
            views = [c for c in ("top", "angle", "left_wrist", "right_wrist") if c in renderer.camera_names]
            for t in np.linspace(0.5, operator.duration - 0.5, max(1, n // len(views))):
                for side in ARM_SIDES:
                    scene.set_follower_targets(side, operator.target(side, t))
                scene.step_to(t)
                frames += [renderer.render(v, 640, 480) for v in views]
        return frames, None
    except Exception as exc:  # noqa: BLE001 — the bench still measures the synthetic sets without the sim
        return [], f"sim frames unavailable: {exc!r}"


def frame_sets(n: int) -> tuple[dict[str, list[np.ndarray]], list[str]]:
    sets, notes = {}, []
    sim, why = sim_frames(n)
    if sim:
        sets["sim_render"] = sim
    else:
        notes.append(why)
    sets["camera_like"] = [SyntheticCamera(480, 640, seed=s).frame(0.37 * s) for s in range(n)]
    sets["camera_like_noise2"] = [
        SyntheticCamera(480, 640, seed=s, noise_sigma=2.0).frame(0.37 * s) for s in range(n)
    ]
    return sets, notes


# ---- codecs


def _cv2_codec(ext: str, params: list[int]):
    def encode(rgb):
        return cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)[1].tobytes()

    return encode, decode_jpeg  # decode_jpeg is cv2.imdecode, which reads any format OpenCV knows


def codecs() -> tuple[dict, list[str]]:
    out = {
        "jpeg_step9_444 (store default: flat tables)": (JpegCodec().encode, decode_jpeg),
        "jpeg_step8_444": (JpegCodec(step=8).encode, decode_jpeg),
        "jpeg_step10_444": (JpegCodec(step=10).encode, decode_jpeg),
        "jpeg_q85_444 (libjpeg tables)": (JpegCodec(quality=85).encode, decode_jpeg),
        "jpeg_q90_444": (JpegCodec(quality=90).encode, decode_jpeg),
        "jpeg_q95_444": (JpegCodec(quality=95).encode, decode_jpeg),
        "jpeg_q85_420": (JpegCodec(quality=85, subsampling="4:2:0").encode, decode_jpeg),
        "jpeg_q90_420": (JpegCodec(quality=90, subsampling="4:2:0").encode, decode_jpeg),
        "webp_q90 (cv2)": _cv2_codec(".webp", [cv2.IMWRITE_WEBP_QUALITY, 90]),
    }
    notes = []
    if cv2.haveImageWriter(".avif"):
        out["avif_q80_speed10 (cv2)"] = _cv2_codec(
            ".avif", [cv2.IMWRITE_AVIF_QUALITY, 80, cv2.IMWRITE_AVIF_SPEED, 10]
        )
    try:
        import imagecodecs

        out["jpegxl_d1_effort1 (imagecodecs)"] = (
            lambda f: imagecodecs.jpegxl_encode(f, distance=1.0, effort=1),
            imagecodecs.jpegxl_decode,
        )
        out["avif_q80_speed10 (imagecodecs)"] = (
            lambda f: imagecodecs.avif_encode(f, level=80, speed=10),
            imagecodecs.avif_decode,
        )
    except ImportError:
        notes.append("imagecodecs not installed: JPEG XL / imagecodecs AVIF rows skipped")
    return out, notes


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def measure_codec(encode, decode, frames: list[np.ndarray]) -> dict:
    encode(frames[0])  # warm-up: first calls load tables and allocate
    started = time.perf_counter()
    blobs = [encode(f) for f in frames]
    encode_s = time.perf_counter() - started
    started = time.perf_counter()
    decoded = [decode(b) for b in blobs]
    decode_s = time.perf_counter() - started
    sizes = np.array([len(b) for b in blobs], np.float64)
    quality = [psnr(a, b) for a, b in zip(frames, decoded, strict=True)]
    return {
        "kb_per_frame": float(sizes.mean() / 1e3),
        "gb_per_hour": float(sizes.mean() * FRAMES_PER_HOUR / 1e9),
        "psnr_db": float(np.mean(quality)),
        "psnr_db_min": float(np.min(quality)),
        "encode_fps_one_core": len(frames) / encode_s,
        "decode_fps_one_core": len(frames) / decode_s,
    }


# ---- the writer


def _rig4():
    return synthetic_rig(cameras=CAMERAS, height=480, width=640, fps=30)


class _NullWriter:
    """The baseline: the same loop with calls that do nothing, to show what the loop itself costs."""

    def add_tick(self, *args, **kwargs) -> bool:
        return True

    def add_frame(self, *args, **kwargs) -> bool:
        return True


def feed_loop(writer, seconds: float, frames: list[np.ndarray], realtime: bool) -> dict:
    """Four cameras at 30 fps and ticks at 50 Hz on absolute deadlines, timing every add_* call.

    With `realtime` the loop thread runs as the RateLoop runs it: SCHED_FIFO and a 0.2 ms GIL
    switch interval (robot_stack/realtime.py).
    """
    events = [(i / 50, "tick", i) for i in range(int(seconds * 50))]
    events += [
        (0.003 + c * 0.007 + i / 30, cam, i)
        for c, cam in enumerate(CAMERAS)
        for i in range(int(seconds * 30))
    ]
    events.sort()
    joints = np.zeros(14, np.float32)
    calls = []
    with realtime_priority(40 if realtime else 0) as applied:
        start = time.monotonic() + 0.05
        for offset, what, i in events:
            deadline = start + offset
            while (now := time.monotonic()) < deadline:
                time.sleep(min(deadline - now, 0.002))
            began = time.perf_counter_ns()
            if what == "tick":
                writer.add_tick(now, joints, joints)
            else:
                writer.add_frame(what, now, frames[(i + 3 * CAMERAS.index(what)) % len(frames)])
            calls.append((time.perf_counter_ns() - began) / 1e3)
    us = np.array(calls)
    return {
        "realtime_scheduling": applied,
        "add_call_us": {
            q: float(np.percentile(us, v)) for q, v in (("p50", 50), ("p99", 99), ("p99.9", 99.9))
        }
        | {"max": float(us.max())},
        "calls_over_1ms": int((us > 1000).sum()),
        "calls": len(us),
    }


def writer_realtime(
    seconds: float, encode_threads: int, frames: list[np.ndarray], folder: Path, realtime: bool
) -> dict:
    rig = _rig4()
    path = folder / f"realtime_{encode_threads}_{int(realtime)}.zarr"
    with Dataset.create(path, rig) as ds:
        writer = ds.begin_episode("bench", encode_threads=encode_threads)
        loop = feed_loop(writer, seconds, frames, realtime)
        live = writer.stats()
        began = time.perf_counter()
        index = writer.finish()
        finish_s = time.perf_counter() - began
        stats = ds.episode(index).attrs["stats"]
    on_disk = tree_bytes(path / "episodes")
    return {
        "seconds": seconds,
        "encode_threads": encode_threads,
        **loop,
        "rejected_ticks": live.rejected_ticks,
        "rejected_frames": sum(live.rejected_frames.values()),
        "queue_peak_mb": live.queue_peak_bytes / 1e6,
        "writer_busy_fraction": live.busy_fraction,
        "finish_s": finish_s,
        "bytes_on_disk": on_disk,
        "gb_per_hour": on_disk / seconds * 3600 / 1e9,
        "achieved_tick_hz": stats["joints"].get("rate_hz"),
        "achieved_fps": {c: s.get("fps") for c, s in stats["cameras"].items()},
    }


def writer_max(n_frames: int, encode_threads: int, frames: list[np.ndarray], folder: Path) -> dict:
    """Frames as fast as they can go (queue big enough for all): the writer's sustained capacity."""
    rig = _rig4()
    path = folder / f"max_{encode_threads}.zarr"
    with Dataset.create(path, rig) as ds:
        writer = ds.begin_episode(
            "bench", encode_threads=encode_threads, max_queue_bytes=n_frames * frames[0].nbytes + 2**20
        )
        began = time.perf_counter()
        for i in range(n_frames):
            writer.add_frame(CAMERAS[i % 4], i / 120, frames[i % len(frames)])
            if i % 2 == 0:
                writer.add_tick(i / 120, np.zeros(14), np.zeros(14))
        writer.finish()
        seconds = time.perf_counter() - began
    return {
        "encode_threads": encode_threads,
        "frames": n_frames,
        "frames_per_s": n_frames / seconds,
        "write_mb_s": tree_bytes(path / "episodes") / seconds / 1e6,
    }


def read_speed(path: Path, n: int) -> dict:
    """Random access as a training data loader does it: fetch one frame's bytes, decode it."""
    episode = Dataset.open(path).episode(0)
    frames = episode.camera(CAMERAS[0]).frames
    picks = np.random.default_rng(0).integers(0, len(frames), n)
    began = time.perf_counter()
    for i in picks:
        frames.jpeg(i)
    fetch_s = time.perf_counter() - began
    began = time.perf_counter()
    for i in picks:
        frames[i]
    total_s = time.perf_counter() - began
    return {"random_fetch_per_s": n / fetch_s, "random_fetch_and_decode_per_s": n / total_s}


def main() -> None:
    args = _common.parser(__doc__).parse_args()
    n = 4 if args.quick else 16
    sets, notes = frame_sets(n)
    table, codec_notes = codecs()
    notes += codec_notes
    results: dict = {}
    for name, (encode, decode) in table.items():
        print(f"store: codec {name}", file=sys.stderr)
        results[name] = {s: measure_codec(encode, decode, frames) for s, frames in sets.items()}
    with tempfile.TemporaryDirectory(prefix="bench_store_") as tmp:
        folder = Path(tmp)
        feed = sets["camera_like_noise2"]
        seconds = 3.0 if args.quick else 20.0
        print(f"store: loop baseline (no writer), {seconds:g} s", file=sys.stderr)
        realtime = {"baseline_no_writer": feed_loop(_NullWriter(), seconds, feed, realtime=True)}
        for threads, rt in ((1, True), (2, True), (2, False)):
            name = f"threads_{threads}" + ("" if rt else "_default_scheduler")
            print(f"store: writer {name}, {seconds:g} s", file=sys.stderr)
            realtime[name] = writer_realtime(seconds, threads, feed, folder, rt)
        capacity = {}
        for threads in (0, 1, 2):
            print(f"store: writer capacity, {threads} encode thread(s)", file=sys.stderr)
            capacity[f"threads_{threads}"] = writer_max(120 if args.quick else 600, threads, feed, folder)
        reading = read_speed(folder / "realtime_2_1.zarr", 50 if args.quick else 300)
    default = results["jpeg_step9_444 (store default: flat tables)"]
    summary = {
        "default_codec": "jpeg_step9_444",
        "gb_per_hour": {s: r["gb_per_hour"] for s, r in default.items()},
        "psnr_db": {s: r["psnr_db"] for s, r in default.items()},
        "writer_rejected": realtime["threads_2"]["rejected_frames"] + realtime["threads_2"]["rejected_ticks"],
        "writer_add_call_us_p99": realtime["threads_2"]["add_call_us"]["p99"],
        "writer_add_call_us_max": realtime["threads_2"]["add_call_us"]["max"],
        "baseline_call_us_max": realtime["baseline_no_writer"]["add_call_us"]["max"],
        "writer_capacity_fps": capacity["threads_2"]["frames_per_s"],
        "read_decode_fps": reading["random_fetch_and_decode_per_s"],
    }
    _common.write(
        {
            "bench": "store",
            "targets": TARGETS,
            "summary": summary,
            "peers": {
                "raw_uncompressed_gb_per_hour": RAW_GB_PER_HOUR,
                "note": "ALOHA stores raw frames (HDF5): the raw figure [calc]. LeRobot's AV1 (crf 30) is ~5.6 % of raw "
                "at ~40 dB on ALOHA footage per its docs; PyAV is not installed here, so it is not measured side by side.",
            },
            "notes": notes,
            "frame_sets": {s: len(f) for s, f in sets.items()},
            "codecs": results,
            "writer_realtime": realtime,
            "writer_capacity": capacity,
            "read": reading,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
