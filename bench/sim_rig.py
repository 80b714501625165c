"""The whole simulated rig: emulated servo chains + physics + cameras, driven through the real driver.

    python bench/sim_rig.py --out docs/bench/sim_rig.json    # 30 s real-time runs, 50 seeds per task
    python bench/sim_rig.py --quick                          # 5 s runs, 2 seeds per task

- real time: the rig runs against the wall clock for a while, with the rig file's four 480x640
  cameras at 30 fps and with none, while a 50 Hz loop reads both leaders and writes both followers
  through DynamixelArm; reports physics time / wall time, camera fps achieved vs. configured, frames
  skipped because rendering fell behind, and the loop's period error.
- success: the scripted operator moves the leader servos; each tick the leaders are read and the
  followers written through the driver (the simulator's own mounting stands in for calibration),
  in lockstep time. Physics-only figures (more seeds, render times) are in bench/sim_physics.py.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import _common  # noqa: E402
from sim_rig_helpers import rig_on_private_ports  # noqa: E402

from drivers.dynamixel.arm import DynamixelArm  # noqa: E402
from drivers.sim.camera_server import SimCameraServer  # noqa: E402
from drivers.sim.rig import SimRig  # noqa: E402
from robot_stack.app.sim_episode import mirrored_episode  # noqa: E402
from robot_stack.rate_loop import RateLoop  # noqa: E402

SIDES = ("left", "right")


def open_arms(rig):
    return {name: DynamixelArm.from_rig(rig, name).open() for name in rig.arms}


def mirror_tick(arms, truth):
    for side in SIDES:
        q = truth.values(f"{side}_leader", arms[f"{side}_leader"].read().positions)
        arms[f"{side}_follower"].write_goal(truth.raw(f"{side}_follower", q))


def realtime_run(rig, seconds: float, with_cameras: bool, workdir: Path) -> dict:
    cameras = rig.cameras if with_cameras else {}
    with SimRig(rig, realtime=True) as sim:
        truth = sim.mounting()
        server = SimCameraServer(sim, cameras, f"ipc://{workdir}/cams-{int(with_cameras)}.sock").open()
        arms = open_arms(rig)
        try:
            wall0, sim0 = time.monotonic(), sim.scene.time
            loop = RateLoop(rig.control_rate_hz, priority=rig.realtime_priority)
            loop.run(lambda tick: mirror_tick(arms, truth), duration_s=seconds)
            wall, simulated = time.monotonic() - wall0, sim.scene.time - sim0
        finally:
            for arm in arms.values():
                arm.close()
            server.close()
        stats = loop.stats()
        return {
            "seconds": seconds,
            "physics_time_per_wall_time": simulated / wall,
            "cameras": {
                name: {
                    "configured_fps": spec.fps,
                    "size": [spec.height, spec.width],
                    "rendered_fps": server.rendered[name] / wall,
                    "skipped_frames": server.skipped[name],
                    "last_render_ms": server.render_ms[name],
                }
                for name, spec in server.cameras.items()
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
    rig = rig_on_private_ports(workdir)
    result = {"bench": "sim_rig", "realtime": {}, "success": {}}
    for label, with_cameras in (("four_cameras_480x640_30fps", True), ("no_cameras", False)):
        print(f"sim_rig: real time, {label}, {seconds:g} s", file=sys.stderr)
        result["realtime"][label] = realtime_run(rig, seconds, with_cameras, workdir)
    for task in ("transfer_cube", "insertion"):
        print(f"sim_rig: {task}, {seeds} seeds through the driver stack", file=sys.stderr)
        wins = [mirrored_episode(rig, task, 1000 + s).success for s in range(seeds)]
        result["success"][task] = {"seeds": seeds, "first_seed": 1000, "success_rate": sum(wins) / seeds}
    cams = result["realtime"]["four_cameras_480x640_30fps"]
    result["summary"] = {
        "physics_keeps_real_time_with_cameras": cams["physics_time_per_wall_time"] > 0.98,
        "camera_fps_achieved_min": min(c["rendered_fps"] for c in cams["cameras"].values()),
        "transfer_cube_success": result["success"]["transfer_cube"]["success_rate"],
        "insertion_success": result["success"]["insertion"]["success_rate"],
    }
    _common.write(result, args.out)


if __name__ == "__main__":
    main()
