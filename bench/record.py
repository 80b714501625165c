"""`robot-stack record` under the full load: the sim rig's four arms at 50 Hz and four 480×640 cameras
at 30 fps, recorded by the real workflow (teleop loop, frame pump, episode writer) for minutes.

    python bench/record.py --out docs/bench/record.json     # 3 min of recording + 1 min recorder alone (~7 min)
    python bench/record.py --quick                          # a smoke run (~1.5 min)
    python bench/record.py --cases alone --out /tmp/a.json   # only the recorder-alone run (~2 min)

Runs, one after the other, each in a process of its own (the scripted operator doing transfer-cube
takes of 15 s, recorded):

- **sim** (≥ 3 min): what `robot-stack record` does on the sim rig: the simulator (physics, emulated
  servo chains, the camera server rendering the four cameras) in a `robot-stack sim` child process,
  the recorder in this one — the shape of a real rig (devices outside the recording process).
- **sim in-process** (`record --sim-in-process`): the simulator inside the recording process; shorter.
- **recorder alone**: the simulator without rendering, and the cameras are synthetic timestamped
  frame sources in the recorder (camera-like frames with sensor noise, 4 × 480×640 at 30 fps, paced
  on absolute deadlines): the recorder's own cost, without the renderer competing for the two cores.

For each: frames stored vs expected per camera (and the drops the cameras saw), tick period p99 and
overruns, CPU use, bytes per hour, PSNR of stored frames against the raw frames the cameras delivered
(kept by a tap on the frame pump), and random-access read-back decode speed. Then the same raw frames
encoded as video with PyAV — AV1 (SVT-AV1) and H.264 (x264) — for size and PSNR beside the stored
JPEG, with the GOP LeRobot uses for random access (2) and a long one (30).
"""

from __future__ import annotations

import io
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

os.environ.setdefault("MUJOCO_GL", "egl")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from drivers.cameras.base import Camera  # noqa: E402
from drivers.cameras.frame import Capture  # noqa: E402
from robot_stack.errors import RobotStackError  # noqa: E402
from robot_stack.store import Dataset, decode_jpeg  # noqa: E402
from robot_stack.store.files import tree_bytes  # noqa: E402
from robot_stack.store.synthetic import SyntheticCamera  # noqa: E402

TARGETS = {"dropped_frames": 0, "tick_overruns": 0, "gb_per_hour_max": 20.0, "psnr_db_min": 40.0}
TAKE_S = 15.0


# ---- setup


def calibrated_rig(folder: Path) -> Path:
    """hardware.yaml with its ports in `folder`, calibrated (files beside it, EEPROM beside the ports)."""
    from calibration.files import calibration_path, save_calibration
    from calibration.guides import AutoGuide
    from calibration.procedure import calibrate_arm
    from drivers.dynamixel.arm import DynamixelArm
    from drivers.sim.rig import SimRig, rig_with_ports_in
    from robot_stack.rig import load_rig

    rig = rig_with_ports_in(load_rig(REPO / "hardware.yaml"), folder)
    path = folder / "rig.yaml"
    path.write_text(yaml.safe_dump(rig.model_dump(mode="json", exclude_none=True), sort_keys=False))
    rig = load_rig(path)
    with SimRig(rig, realtime=True, operator=False) as sim:
        for name in rig.arms:
            with DynamixelArm.from_rig(rig, name, torque=False) as arm:
                save_calibration(
                    calibrate_arm(arm, AutoGuide(sim), rig.name), calibration_path(rig, path, name)
                )
    return path


class SyntheticSource(Camera):
    """A timestamped frame source: camera-like frames at the spec's rate, on absolute deadlines.

    `distinct` frames are made up front, each with its own sensor noise (σ = 2), the arms moving
    between them; they are then delivered in a cycle, stamped with the time they are delivered and
    numbered as a camera's own frame counter numbers them (RealSense does): a capture thread that
    wakes late delivers a frame late, not never, and the counter tells the two apart. How late the
    deliveries were is kept beside (`lateness`).
    """

    driver = "synthetic"

    def __init__(self, name, spec, *, seed: int = 0, distinct: int = 60, **options):
        super().__init__(name, spec, **options)
        cam = SyntheticCamera(spec.height, spec.width, seed=seed)
        rng = np.random.default_rng(seed)
        self._images = []
        for k in range(distinct):
            noise = rng.standard_normal((spec.height, spec.width, 3), dtype=np.float32) * 2.0
            image = np.clip(cam.frame(k / spec.fps) + noise, 0, 255).astype(np.uint8)
            image.flags.writeable = False
            self._images.append(image)
        self._k = 0
        self._t0 = 0.0
        self._late_s: list[float] = []

    def _connect(self) -> None:
        self._t0 = self.clock.now()
        self._k = 0
        self._late_s = []

    def _disconnect(self) -> None:
        pass

    def _read(self, timeout_s: float) -> Capture | None:
        due = self._t0 + self._k * self.period_s
        now = self.clock.now()
        if due - now > timeout_s:
            time.sleep(timeout_s)
            return None
        if due > now:
            time.sleep(due - now)
        image = self._images[self._k % len(self._images)]
        sequence = self._k
        self._k += 1
        t = self.clock.now()
        self._late_s.append(t - due)
        return Capture(image=image, t_host=t, device_sequence=sequence)

    def lateness(self) -> dict:
        """How long after its due time each frame was delivered."""
        late = np.array(self._late_s) if self._late_s else np.zeros(1)
        return {
            "frames": len(self._late_s),
            "late_ms_p99": round(float(np.percentile(late, 99)) * 1e3, 2),
            "late_ms_max": round(float(late.max()) * 1e3, 2),
            "later_than_half_a_period": int((late > 0.5 * self.period_s).sum()),
        }


class RawTap:
    """Keeps the first `keep` raw frames per camera of the first take, from `skip_s` into it."""

    def __init__(self, keep: int, skip_s: float = 2.0):
        self.keep, self.skip_s = keep, skip_s
        self.frames: dict[str, list[tuple[float, np.ndarray]]] = {}
        self.session = None

    def __call__(self, name, frames) -> None:
        take = self.session.take if self.session is not None else None
        if take is None or take.number != 1:
            return
        kept = self.frames.setdefault(name, [])
        for f in frames:
            if f.t_host >= take.t_start + self.skip_s and len(kept) < self.keep:
                kept.append((f.t_host, f.image))


# ---- one recording


def cpu_times() -> tuple[float, float, float, float]:
    """(process CPU s, machine busy jiffies, machine total jiffies, jiffies stolen by the hypervisor)."""
    t = os.times()
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return t.user + t.system, sum(fields) - idle, sum(fields), fields[7]


def start_sim(rig_path: Path, folder: Path, cameras: bool = True):
    """`robot-stack sim` as a process of its own, on sockets in `folder`; returns (process, endpoints)."""
    import subprocess

    from drivers.sim.control import SimControlClient
    from robot_stack.errors import RobotStackError

    endpoints = {"control": f"ipc://{folder}/sim-control.sock", "camera": f"ipc://{folder}/sim-cameras.sock"}
    cmd = [sys.executable, "-m", "robot_stack.app.cli", "--rig", str(rig_path), "sim", "--no-operator"]
    cmd += ["--control", endpoints["control"], "--camera-endpoint", endpoints["camera"]]
    if not cameras:
        cmd.append("--no-cameras")
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            with SimControlClient(endpoints["control"], timeout_s=0.5) as client:
                client.call("status")
            return proc, endpoints
        except RobotStackError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(
                    f"robot-stack sim did not start: {proc.stderr.read().decode()[-2000:]}"
                ) from None
            time.sleep(0.3)


class StealWatch:
    """Samples the hypervisor's steal time every 100 ms while a recording runs: a VM whose cores are
    taken away for tens of milliseconds makes ticks late that no code of ours could keep on time."""

    def __init__(self, interval_s: float = 0.1):
        self.interval_s = interval_s
        self.samples_ms: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steal-watch", daemon=True)

    def __enter__(self) -> StealWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        jiffy_ms = 1000.0 / os.sysconf("SC_CLK_TCK")
        last = cpu_times()[3]
        while not self._stop.wait(self.interval_s):
            now = cpu_times()[3]
            self.samples_ms.append((now - last) * jiffy_ms)
            last = now

    def figures(self) -> dict:
        s = np.asarray(self.samples_ms)
        return {
            "window_ms": self.interval_s * 1000,
            "max_ms_in_a_window": float(s.max()) if s.size else 0.0,
            "windows_over_20ms": int((s > 20).sum()),
            "windows": int(s.size),
        }


def process_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def record_run(
    rig_path: Path,
    folder: Path,
    seconds: float,
    synthetic: bool,
    keep: int,
    skip_s: float = 2.0,
    sim: str = "child",
    name: str = "sim",
) -> tuple[dict, RawTap]:
    from rich.console import Console

    from robot_stack.app.record.workflow import Recorder, RecordRequest

    episodes = max(1, math.ceil(seconds / TAKE_S))
    take_s = min(TAKE_S, seconds)
    dataset = folder / f"{name}.zarr"
    # sim: "child" — record's default, a `robot-stack sim` child process; "in-process"; "unrendered" — a
    # `robot-stack sim --no-cameras` started here (the synthetic sources replace its cameras)
    own_proc, endpoints = start_sim(rig_path, folder, cameras=False) if sim == "unrendered" else (None, {})
    request = RecordRequest(
        rig_path=rig_path,
        dataset=dataset,
        task="transfer_cube",
        episodes=episodes,
        episode_s=take_s,
        reset_s=1.0,
        control_endpoint=endpoints.get("control"),
        camera_endpoint=endpoints.get("camera"),
        sim_in_process=sim == "in-process",
    )
    factory = None
    sources: dict[str, SyntheticSource] = {}
    if synthetic:

        def factory(rig):
            for k, (name, spec) in enumerate(rig.cameras.items()):
                sources[name] = SyntheticSource(name, spec, seed=k, distinct=keep).open()
            return dict(sources)

    tap = RawTap(keep, skip_s)
    console = Console(file=io.StringIO(), width=200)
    fault = None
    steal = StealWatch()
    try:
        with Recorder(request, console, camera_factory=factory, tap=tap) as recorder:
            tap.session = recorder.session
            sim_proc = own_proc or (recorder.sim_child.proc if recorder.sim_child else None)
            load_before = os.getloadavg()
            cpu0, busy0, total0, steal0 = cpu_times()
            sim_cpu0 = process_cpu_s(sim_proc.pid) if sim_proc else 0.0
            wall0 = time.monotonic()
            try:
                with steal:
                    result = recorder.run(panel=False)
            except RobotStackError as exc:  # a run that stops on a fault is a figure too, not a crash
                fault = str(exc)
            wall = time.monotonic() - wall0
            cpu1, busy1, total1, steal1 = cpu_times()
            sim_cpu = (process_cpu_s(sim_proc.pid) - sim_cpu0) if sim_proc else None
            writer_pid = recorder.dataset.writer_pid if recorder.dataset is not None else None
            writer_cpu = process_cpu_s(writer_pid) if writer_pid else None  # it started with the first take
            render_ms = dict(recorder.camera_server.render_ms) if recorder.camera_server else {}
            skipped = dict(recorder.camera_server.skipped) if recorder.camera_server else {}
    finally:
        if own_proc is not None:
            own_proc.terminate()
            own_proc.wait(30)
    if fault is not None:
        return {"fault": fault, "wall_s": round(wall, 1), "simulator": sim, "steal": steal.figures()}, tap
    out = summarize(dataset, result)
    where = {
        "child": "robot-stack sim in a child process (record's default)",
        "in-process": "simulator in the recording process (record --sim-in-process)",
        "unrendered": "robot-stack sim --no-cameras in a process of its own",
    }[sim]
    out.update(
        cameras_source="synthetic frame sources (camera-like, sigma 2 noise)" if synthetic else "sim renders",
        simulator=where,
        wall_s=round(wall, 1),
        cpu={
            "recording_process_cores": round((cpu1 - cpu0) / wall, 2),
            "sim_process_cores": None if sim_cpu is None else round(sim_cpu / wall, 2),
            "writer_process_cores": None if writer_cpu is None else round(writer_cpu / wall, 2),
            "machine_busy_fraction": round((busy1 - busy0) / max(total1 - total0, 1), 3),
            # a VM's cores can be taken away for a while: ticks late then are not the recorder's
            "machine_steal_fraction": round((steal1 - steal0) / max(total1 - total0, 1), 4),
            "machine_steal_bursts": steal.figures(),
            "machine_cores": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
    )
    if sources:
        out["synthetic_source_delivery"] = {name: src.lateness() for name, src in sources.items()}
    if render_ms:
        out["sim_render_ms_last"] = {k: round(v, 1) for k, v in render_ms.items()}
        out["sim_frames_skipped_by_renderer"] = skipped
    out["psnr_stored_vs_raw"] = stored_psnr(dataset, tap)
    out["read_back"] = read_back(dataset)
    return out, tap


def _ms(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def summarize(dataset: Path, result) -> dict:
    ds = Dataset.open(dataset)
    episodes = ds.episodes()
    recorded_s = sum(a["stats"]["joints"].get("duration_s", 0.0) for a in episodes.values())
    periods = []
    for k in episodes:
        periods.append(np.diff(ds.episode(k).t[:]))
    periods = np.concatenate(periods) if periods else np.zeros(0)
    cams: dict = {}
    for attrs in episodes.values():
        rec = attrs["extra"]["recorder"]
        for name, c in rec["cameras"].items():
            acc = cams.setdefault(name, {"stored": 0, "expected": 0, "drops_seen_by_camera": 0, "missed": 0,
                                         "refused_by_writer": 0, "stalls": 0})  # fmt: skip
            acc["stored"] += c["frames"]
            acc["expected"] += c["expected"]
            acc["drops_seen_by_camera"] += c["drops"]
            acc["missed"] += c["missed"]
            acc["refused_by_writer"] += c["rejected"]
            acc["stalls"] += c["stalls"]
    for acc in cams.values():
        acc["stored_fraction"] = round(acc["stored"] / max(acc["expected"], 1), 4)
    overruns = sum(a["extra"]["recorder"]["overruns"] for a in episodes.values())
    size = tree_bytes(dataset / "episodes")
    loop = result.loop
    return {
        "episodes": len(episodes),
        "recorded_s": round(recorded_s, 1),
        "success": [a["success"] for a in episodes.values()],
        "frames_per_camera": cams,
        "ticks": {
            "count": int(len(periods) + len(episodes)),
            "period_ms_p50": round(float(np.percentile(periods, 50)) * 1e3, 2) if len(periods) else None,
            "period_ms_p99": round(float(np.percentile(periods, 99)) * 1e3, 2) if len(periods) else None,
            "period_ms_max": round(float(periods.max()) * 1e3, 2) if len(periods) else None,
            "late_ticks_over_1.5_periods": int((periods > 0.03).sum()),
            "overruns_in_takes": int(overruns),
            # each overrun in a take: which take, when into it, and the body's sections (ms)
            "overrun_ticks": [
                {"take": k, **{key: o[key] for key in ("at_s", "body_ms", "wake_ms", "sections_ms")}}
                for k, a in episodes.items()
                for o in a["extra"]["recorder"].get("overrun_ticks", [])
            ],
            "loop_overruns_whole_run": loop.get("overruns"),
            "loop_period_error_p99_ms": round(loop["period_error"]["p99_ms"], 2) if loop else None,
            "realtime": loop.get("realtime"),
            # where a long tick went: a late wake (scheduling, the GIL) or a slow body part (bus, writer)
            "worst_ms": {
                "wake_latency": _ms(loop.get("wake_latency", {}).get("max_ms")),
                "body": _ms(loop.get("busy", {}).get("max_ms")),
                **{name: _ms(p.get("max_ms")) for name, p in loop.get("sections", {}).items()},
            },
        },
        "bytes": size,
        "gb_per_hour": round(size / max(recorded_s, 1e-9) * 3600 / 1e9, 2),
        "quality_flags": {str(k): a["extra"]["quality_flags"] for k, a in episodes.items()},
    }


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def stored_psnr(dataset: Path, tap: RawTap) -> dict:
    ds = Dataset.open(dataset)
    first = ds.indices()[0]
    ep = ds.episode(first)
    out = {}
    for name, kept in tap.frames.items():
        cam = ep.camera(name)
        t = cam.t[:]
        values = []
        for t_host, raw in kept:
            i = int(np.searchsorted(t, t_host))
            if i < len(t) and t[i] == t_host:
                values.append(psnr(cam.frames[i], raw))
        if values:
            out[name] = {"frames": len(values), "mean_db": round(float(np.mean(values)), 2),
                         "min_db": round(float(np.min(values)), 2)}  # fmt: skip
    return out


def read_back(dataset: Path, seconds: float = 3.0) -> dict:
    """Random (episode, camera, frame) fetch + decode on one core, as a training loader reads."""
    ds = Dataset.open(dataset)
    streams = [ds.episode(k).camera(name).frames for k in ds.indices() for name in ds.rig.cameras]
    streams = [s for s in streams if len(s)]
    rng = np.random.default_rng(0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s = streams[rng.integers(len(streams))]
        s[int(rng.integers(len(s)))]
        n += 1
    fetch_decode = n / (time.perf_counter() - t0)
    # sequential decode of stored JPEGs already in memory: the codec's own speed
    jpegs = [np.frombuffer(streams[0].jpeg(i), np.uint8) for i in range(min(len(streams[0]), 60))]
    t0 = time.perf_counter()
    for j in jpegs:
        decode_jpeg(j)
    return {
        "random_fetch_and_decode_fps": round(fetch_decode, 1),
        "decode_only_fps": round(len(jpegs) / (time.perf_counter() - t0), 1),
    }


# ---- video side by side

VIDEO = {
    "av1_svt_crf30_g2 (LeRobot-style)": ("libsvtav1", {"crf": "30", "g": "2", "preset": "10"}),
    "av1_svt_crf30_g30": ("libsvtav1", {"crf": "30", "g": "30", "preset": "10"}),
    "h264_x264_crf18_g2": ("libx264", {"crf": "18", "g": "2", "preset": "veryfast"}),
    "h264_x264_crf18_g30": ("libx264", {"crf": "18", "g": "30", "preset": "veryfast"}),
    "h264_x264_crf18_g30_yuv444": (
        "libx264",
        {"crf": "18", "g": "30", "preset": "veryfast", "pix_fmt": "yuv444p"},
    ),
}


def video_vs_jpeg(dataset: Path, tap: RawTap) -> dict:
    try:
        import av
    except ImportError:
        return {"skipped": "PyAV is not installed (pip install av; it is in the dev extras)"}
    ds = Dataset.open(dataset)
    ep = ds.episode(ds.indices()[0])
    raw = {name: [img for _, img in kept] for name, kept in tap.frames.items() if len(kept) >= 10}
    n_frames = sum(len(v) for v in raw.values())
    out: dict = {"frames": n_frames, "cameras": list(raw), "pyav": av.__version__}
    # the stored JPEGs of the very same frames
    jpeg_bytes, jpeg_psnr = 0, []
    for name, kept in tap.frames.items():
        if name not in raw:
            continue
        cam = ep.camera(name)
        t = cam.t[:]
        for t_host, img in kept:
            i = int(np.searchsorted(t, t_host))
            if i < len(t) and t[i] == t_host:
                jpeg_bytes += len(cam.frames.jpeg(i))
                jpeg_psnr.append(psnr(cam.frames[i], img))
    out["jpeg (as stored)"] = {
        "gb_per_hour": round(jpeg_bytes / max(len(jpeg_psnr), 1) * 4 * 30 * 3600 / 1e9, 2),
        "psnr_mean_db": round(float(np.mean(jpeg_psnr)), 2) if jpeg_psnr else None,
        "psnr_min_db": round(float(np.min(jpeg_psnr)), 2) if jpeg_psnr else None,
        "random_access": "any frame alone",
    }
    for label, (codec, options) in VIDEO.items():
        size, values, enc_s, dec_s = 0, [], 0.0, 0.0
        for frames in raw.values():
            data, secs = encode_video(av, frames, codec, options)
            size += len(data)
            enc_s += secs
            t0 = time.perf_counter()
            decoded = decode_video(av, data)
            dec_s += time.perf_counter() - t0
            values += [psnr(d, f) for d, f in zip(decoded, frames, strict=False)]
        out[label] = {
            "gb_per_hour": round(size / n_frames * 4 * 30 * 3600 / 1e9, 2),
            "psnr_mean_db": round(float(np.mean(values)), 2),
            "psnr_min_db": round(float(np.min(values)), 2),
            "encode_fps": round(n_frames / enc_s, 1),
            "sequential_decode_fps": round(n_frames / dec_s, 1),
            "random_access": f"decode from the previous keyframe (GOP {options['g']})",
        }
    return out


def encode_video(av, frames, codec: str, options: dict) -> tuple[bytes, float]:
    buf = io.BytesIO()
    t0 = time.perf_counter()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=30)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        options = dict(options)
        stream.pix_fmt = options.pop("pix_fmt", "yuv420p")
        stream.options = options
        for img in frames:
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            ):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue(), time.perf_counter() - t0


def decode_video(av, data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data), "r") as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


# ---- main


CASES = ("sim", "in-process", "alone")


def main() -> int:
    parser = _common.parser(__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help="which recordings to run, comma-separated (default: all): " + ", ".join(CASES),
    )
    args = parser.parse_args()
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    if len(args.cases) > 1:
        return run_each_in_its_own_process(args)
    sim_s, short_s, keep = (20.0, 15.0, 30) if args.quick else (180.0, 60.0, 30)
    folder = Path(tempfile.mkdtemp(prefix="bench_record_"))
    try:
        return run_all(args, folder, sim_s, short_s, keep)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the datasets: ≈ 1 GB after a full run


def run_each_in_its_own_process(args) -> int:
    """One fresh process per case, as `robot-stack record` runs: a case must not inherit the heap,
    imports and threads an earlier case left in this process (a recorder-alone run after the
    in-process one had 44-52 overruns in 60 s; on its own, 0-14)."""
    import json
    import subprocess

    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench_record_cases_") as tmp:
        for case in args.cases:
            out = Path(tmp) / f"{case}.json"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--cases", case, "--out", str(out)]
            cmd += ["--quick"] if args.quick else []
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            figures = json.loads(out.read_text())
            figures.pop("machine", None)
            results.update(figures)
    _common.write(results, args.out)
    return 0


def run_all(args, folder: Path, sim_s: float, short_s: float, keep: int) -> int:
    print(f"calibrating the sim rig in {folder} ...", file=sys.stderr)
    rig_path = calibrated_rig(folder)
    results: dict = {"targets": TARGETS, "take_s": TAKE_S}
    if "sim" in args.cases:
        print(f"recording {sim_s:.0f} s, robot-stack sim in a child process ...", file=sys.stderr)
        sim, tap = record_run(rig_path, folder, sim_s, synthetic=False, keep=keep, sim="child", name="sim")
        results["sim"] = sim
        if "fault" not in sim:
            results["video_vs_jpeg_sim_renders"] = video_vs_jpeg(folder / "sim.zarr", tap)
            cores = (sim["cpu"]["recording_process_cores"] or 0) + (sim["cpu"]["sim_process_cores"] or 0)
            results["sim_plus_recorder_cores"] = round(cores, 2)
            results["sim_plus_recorder_exceeds_two_cores"] = cores > 1.8 or any(
                c["stored_fraction"] < 0.99 for c in sim["frames_per_camera"].values()
            )
        del tap
    if "in-process" in args.cases:
        print(f"recording {short_s:.0f} s, simulator in the recording process ...", file=sys.stderr)
        results["sim_in_process"], _ = record_run(
            rig_path, folder, short_s, synthetic=False, keep=0, sim="in-process", name="inproc"
        )
    if "alone" in args.cases:
        print(f"recording {short_s:.0f} s with synthetic frame sources ...", file=sys.stderr)
        # the tap keeps one cycle of the sources' distinct frames, from the start of the take
        alone, tap = record_run(
            rig_path,
            folder,
            short_s,
            synthetic=True,
            keep=keep,
            skip_s=0.0,
            sim="unrendered",
            name="synthetic",
        )
        results["recorder_alone"] = alone
        if "fault" not in alone:
            results["video_vs_jpeg_camera_like"] = video_vs_jpeg(folder / "synthetic.zarr", tap)
    _common.write(results, args.out)
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
