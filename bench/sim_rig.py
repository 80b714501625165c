"""The whole simulated rig: emulated servo chains + physics + cameras, driven through the real driver.

    python bench/sim_rig.py --out docs/bench/sim_rig.json    # 30 s real-time runs, 50 seeds per task
    python bench/sim_rig.py --quick                          # 5 s runs, 2 seeds per task

- real time: `robot-stack sim` runs in its own process against the wall clock, with the rig file's
  four 480x640 cameras at 30 fps and with none, while this process runs a 50 Hz loop reading both
  leaders and writing both followers through DynamixelArm and receives the cameras through
  SimCamera; reports physics time / wall time, camera fps received vs. configured, and the loop's
  period error.
- success: the scripted operator moves the leader servos; each tick the leaders are read and the
  followers written through the driver (the simulator's own mounting stands in for calibration),
  in lockstep time. Physics-only figures (more seeds, render times) are in bench/sim_physics.py.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common  # noqa: E402
import yaml  # noqa: E402

from drivers.cameras.factory import open_camera  # noqa: E402
from drivers.dynamixel.arm import DynamixelArm  # noqa: E402
from drivers.sim.assembly import ArmAssembly, MountingMap  # noqa: E402
from drivers.sim.control import SimControlClient  # noqa: E402
from drivers.sim.rig import rig_with_ports_in  # noqa: E402
from robot_stack.app.sim_episode import mirrored_episode  # noqa: E402
from robot_stack.rate_loop import RateLoop  # noqa: E402
from robot_stack.rig import load_rig  # noqa: E402

SIDES = ("left", "right")


def open_arms(rig):
    return {name: DynamixelArm.from_rig(rig, name).open() for name in rig.arms}


def mirror_tick(arms, truth):
    for side in SIDES:
        q = truth.values(f"{side}_leader", arms[f"{side}_leader"].read().positions)
        arms[f"{side}_follower"].write_goal(truth.raw(f"{side}_follower", q))


def realtime_run(rig, rig_file: Path, seconds: float, with_cameras: bool, workdir: Path) -> dict:
    """The simulator in its own process (as `robot-stack sim` runs on a rig PC), this process as the
    client: a 50 Hz loop mirroring leaders to followers through the driver, and the cameras received
    through SimCamera."""
    endpoint = f"ipc://{workdir}/cams.sock"
    cmd = [
        sys.executable,
        "-m",
        "robot_stack.app.cli",
        "--rig",
        str(rig_file),
        "sim",
        "--control",
        f"ipc://{workdir}/control.sock",
        "--camera-endpoint",
        endpoint,
        "--seconds",
        str(seconds + 30),
    ]
    if not with_cameras:
        cmd.append("--no-cameras")
    sim = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with SimControlClient(f"ipc://{workdir}/control.sock", timeout_s=30) as control:
            status0 = control.call("status")
            cameras = {}
            if with_cameras:
                cameras = {
                    n: open_camera(n, spec, endpoint=endpoint, ring_size=256)
                    for n, spec in rig.cameras.items()
                }
            arms = open_arms(rig)
            mounting = MountingMap(rig, {n: ArmAssembly(n, a, 0) for n, a in rig.arms.items()})
            try:
                frames0 = {n: c.stats().frames for n, c in cameras.items()}
                wall0 = time.monotonic()
                loop = RateLoop(rig.control_rate_hz, priority=rig.realtime_priority)
                loop.run(lambda tick: mirror_tick(arms, mounting), duration_s=seconds)
                wall = time.monotonic() - wall0
                received = {n: c.stats().frames - frames0[n] for n, c in cameras.items()}
                drops = {n: c.stats().drops for n, c in cameras.items()}
                status1 = control.call("status")
            finally:
                for arm in arms.values():
                    arm.close()
                for cam in cameras.values():
                    cam.close()
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    stats = loop.stats()
    return {
        "seconds": seconds,
        "physics_time_per_wall_time": (status1["sim_time"] - status0["sim_time"]) / wall,
        "cameras": {
            name: {
                "configured_fps": spec.fps,
                "size": [spec.height, spec.width],
                "received_fps": received[name] / wall,
                "drops_seen_by_camera": drops[name],
            }
            for name, spec in (rig.cameras.items() if with_cameras else [])
        },
        "teleop_loop": {
            "overruns": stats.overruns,
            "period_error": stats.period_error.__dict__,
            "realtime": stats.realtime,
        },
    }


def main() -> None:
    args = _common.parser(__doc__).parse_args()
    seconds, seeds = (5.0, 2) if args.quick else (30.0, 50)
    workdir = Path(tempfile.mkdtemp(prefix="sim_rig_bench_"))
    rig = rig_with_ports_in(load_rig(Path(__file__).resolve().parent.parent / "hardware.yaml"), workdir)
    rig_file = workdir / "rig.yaml"
    rig_file.write_text(yaml.safe_dump(rig.model_dump(), sort_keys=False))
    result = {"bench": "sim_rig", "realtime": {}, "success": {}}
    for label, with_cameras in (("four_cameras_480x640_30fps", True), ("no_cameras", False)):
        print(f"sim_rig: real time, {label}, {seconds:g} s", file=sys.stderr)
        result["realtime"][label] = realtime_run(rig, rig_file, seconds, with_cameras, workdir)
    for task in ("transfer_cube", "insertion"):
        print(f"sim_rig: {task}, {seeds} seeds through the driver stack", file=sys.stderr)
        wins = [mirrored_episode(rig, task, 1000 + s).success for s in range(seeds)]
        result["success"][task] = {"seeds": seeds, "first_seed": 1000, "success_rate": sum(wins) / seeds}
    cams = result["realtime"]["four_cameras_480x640_30fps"]
    result["summary"] = {
        "physics_keeps_real_time_with_cameras": cams["physics_time_per_wall_time"] > 0.98,
        "camera_fps_received_min": min(c["received_fps"] for c in cams["cameras"].values()),
        "transfer_cube_success": result["success"]["transfer_cube"]["success_rate"],
        "insertion_success": result["success"]["insertion"]["success_rate"],
    }
    _common.write(result, args.out)


if __name__ == "__main__":
    main()
