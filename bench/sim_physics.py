"""The simulated rig's physics: scripted-operator success, physics speed, camera render time.

    python bench/sim_physics.py --out docs/bench/sim_physics.json   # 100 seeds per task and condition
    python bench/sim_physics.py --quick                             # 5 seeds

Success is measured twice per task: with the operator's leader targets fed straight to the followers
at 50 Hz, and late (left arm 40 ms, right arm 20 ms: the chains are separate buses, so the arms need
not lag alike) and quantised to 0.1 degree, which is what the real leader → teleop → follower path
adds. The real-time factor is simulated seconds per host second of physics stepping during those
episodes (no cameras). Render time is per frame, per scene camera, at 480x640 and 240x320,
beside MuJoCo's default visual settings (shadows, 4x multisampling) as the peer.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common  # noqa: E402
import numpy as np  # noqa: E402

from drivers.sim.episode import run_scripted_episode  # noqa: E402
from drivers.sim.render import SceneRenderer  # noqa: E402
from drivers.sim.scene import SimScene  # noqa: E402
from drivers.sim.tasks import TASKS  # noqa: E402

TARGETS = {"transfer_cube": 0.98, "insertion": 0.90}
CONDITIONS = {
    "direct": {},
    "late_40ms_20ms_quantised_0.1deg": {
        "delay_s": {"left": 0.04, "right": 0.02},
        "joint_quantum_rad": float(np.radians(0.1)),
        "gripper_quantum": 0.002,
    },
}
SIZES = ((480, 640), (240, 320))


def success_rates(seeds: int) -> tuple[dict, dict]:
    rates, physics = {}, {"sim_s": 0.0, "wall_s": 0.0}
    for task in TASKS:
        rates[task] = {}
        scene = SimScene(task, 0)
        for condition, kwargs in CONDITIONS.items():
            failures, lengths = [], []
            for seed in range(seeds):
                r = run_scripted_episode(task, seed, scene=scene, **kwargs)
                lengths.append(r.duration_s)
                physics["sim_s"] += r.duration_s
                physics["wall_s"] += r.physics_wall_s
                if not r.success:
                    failures.append({"seed": seed, "stage": r.status.stage, "strategy": r.strategy})
            rate = 1 - len(failures) / seeds
            rates[task][condition] = {
                "seeds": seeds,
                "success_rate": rate,
                "target": TARGETS[task],
                "meets_target": rate >= TARGETS[task],
                "episode_s": {"mean": statistics.mean(lengths), "min": min(lengths), "max": max(lengths)},
                "failures": failures,
            }
            print(f"sim_physics: {task} {condition}: {rate:.0%} of {seeds} seeds", file=sys.stderr)
    physics["real_time_factor"] = physics["sim_s"] / physics["wall_s"]
    return rates, physics


def render_times(frames: int) -> dict:
    scene = SimScene("transfer_cube", 0)
    scene.step_to(0.5)
    out = {}
    with SceneRenderer(scene) as renderer:
        for height, width in SIZES:
            per_camera = {}
            for camera in renderer.camera_names:
                renderer.render(camera, width, height)  # first frame pays for the context
                started = time.perf_counter()
                for _ in range(frames):
                    renderer.render(camera, width, height)
                per_camera[camera] = (time.perf_counter() - started) / frames * 1e3
            out[f"{height}x{width}"] = {
                "ms_per_frame": per_camera,
                "mean_ms": statistics.mean(per_camera.values()),
            }
    out["peer_default_visuals_480x640"] = _default_visuals(scene, frames)
    return out


def _default_visuals(scene: SimScene, frames: int) -> dict:
    """The same cameras with MuJoCo's defaults as the model file sets them (shadows, multisampling)."""
    import mujoco

    model, data = scene.model, scene.data
    saved = (model.vis.quality.shadowsize, model.vis.quality.offsamples)
    model.vis.quality.shadowsize, model.vis.quality.offsamples = 4096, 4
    try:
        with mujoco.Renderer(model, 480, 640) as renderer:
            out = {}
            for camera in ("top", "left_wrist"):
                renderer.update_scene(data, camera)
                renderer.render()
                started = time.perf_counter()
                for _ in range(frames):
                    renderer.update_scene(data, camera)
                    renderer.render()
                out[camera] = (time.perf_counter() - started) / frames * 1e3
    finally:
        model.vis.quality.shadowsize, model.vis.quality.offsamples = saved
    return {"ms_per_frame": out}


def main() -> None:
    args = _common.parser(__doc__).parse_args()
    seeds, frames = (5, 5) if args.quick else (100, 30)
    rates, physics = success_rates(seeds)
    renders = render_times(frames)
    summary = {
        **{f"{t}_success": rates[t]["direct"]["success_rate"] for t in rates},
        **{
            f"{t}_success_late_quantised": rates[t]["late_40ms_20ms_quantised_0.1deg"]["success_rate"]
            for t in rates
        },
        "real_time_factor": physics["real_time_factor"],
        "render_ms_480x640": renders["480x640"]["mean_ms"],
        "render_ms_240x320": renders["240x320"]["mean_ms"],
    }
    summary["meets_targets"] = all(c["meets_target"] for r in rates.values() for c in r.values())
    result = {
        "bench": "sim_physics",
        "summary": summary,
        "success": rates,
        "physics": physics,
        "render": renders,
    }
    _common.write(result, args.out)


if __name__ == "__main__":
    main()
