"""How much `record --noise` the scripted operator's demonstrations survive, per task.

    python bench/demo_noise.py --out docs/bench/demo_noise.json   # 30 seeds per task and noise
    python bench/demo_noise.py --quick                            # 3 seeds, one noise level

The scripted operator (steady style, as `bench/success.py --operator-style steady` records) runs in
lockstep on the physics alone, its leader targets straight to the followers, each follower joint
but the gripper offset by the recorder's own `JointNoise` — faded to zero around the operator's
steady spans (`SteadySpans`), or not (`spans: false`, the peer that shows what the spans buy).
A take the operator fails is a demonstration `bench/success.py` records and throws away, so the
rate here is what a noise level costs in takes, and a task whose rate collapses cannot be recorded
with that noise at all.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common  # noqa: E402
import numpy as np  # noqa: E402

from drivers.sim.arms import ARM_SIDES  # noqa: E402
from drivers.sim.episode import run_scripted_episode  # noqa: E402
from drivers.sim.scene import SimScene  # noqa: E402
from drivers.sim.tasks import TASKS  # noqa: E402
from robot_stack.app.teleop.perturbation import JointNoise, SteadySpans  # noqa: E402

TIME_CONSTANT_S = 0.5  # record --noise's default
CONTROL_DT = 0.02
FULL = [(0.0, True), (0.01, True), (0.015, True), (0.02, True), (0.03, True), (0.02, False)]
QUICK = [(0.02, True)]


def noise_for(sigma: float, spans: bool, seed: int):
    def offsets_for(operator):
        arm_joints = np.r_[np.ones(6), 0.0]  # as record: every follower joint but the gripper
        noise = JointNoise(
            dict.fromkeys(ARM_SIDES, arm_joints), sigma, TIME_CONSTANT_S, CONTROL_DT, seed=seed
        )
        if spans:
            noise.envelope = SteadySpans(operator.steady_spans, origin=0.0)
        return noise.step

    return offsets_for


def run(task: str, sigma: float, spans: bool, seeds: int, scene: SimScene) -> dict:
    failures = []
    for seed in range(seeds):
        r = run_scripted_episode(
            task,
            seed,
            scene=scene,
            style="steady",
            offsets_for=noise_for(sigma, spans, seed) if sigma else None,
        )
        if not r.success:
            failures.append({"seed": seed, "stage": r.status.stage})
    rate = 1 - len(failures) / seeds
    print(f"demo_noise: {task} sigma {sigma} spans {spans}: {rate:.0%} of {seeds}", file=sys.stderr)
    return {"sigma_rad": sigma, "spans": spans, "seeds": seeds, "success_rate": rate, "failures": failures}


def main() -> None:
    args = _common.parser(__doc__).parse_args()
    seeds, conditions = (3, QUICK) if args.quick else (30, FULL)
    results = {}
    for task in TASKS:
        if task == "transfer_cube_rotated":
            continue  # its operator is transfer_cube's: nothing new to learn
        scene = SimScene(task, 0)
        results[task] = [run(task, sigma, spans, seeds, scene) for sigma, spans in conditions]
    summary = {
        f"{task}_sigma{c['sigma_rad']}{'' if c['spans'] else '_no_spans'}": c["success_rate"]
        for task, rows in results.items()
        for c in rows
    }
    _common.write(
        {
            "bench": "demo_noise",
            "style": "steady",
            "time_constant_s": TIME_CONSTANT_S,
            "summary": summary,
            "tasks": results,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
