"""The deploy runtime on the simulated rig in real time: executor timing under planner load, the
planner → executor latency per transport, and success in real time versus lockstep.

    python bench/deploy.py --out docs/bench/deploy.json      # 5 min of executor timing, 5 episodes per case
    python bench/deploy.py --quick --out /tmp/deploy.json    # 20 s, 1 episode per case
    python bench/deploy.py --sections executor --out docs/bench/deploy_executor.json   # (1) alone

1. **Executor period under planner load.** `robot-stack deploy`'s daemon (in-process planner thread,
   inproc link) runs a `sim-cpu` ACT checkpoint (ResNet-style backbone, the preset's chunk; trained one step on
   two scripted demos: the weights do not matter for timing) on the same 2-core machine as the
   simulated rig (MuJoCo physics, four emulated servo chains, the camera renderer). The executor's
   `RateLoop` statistics: period error p50/p99/max, overruns, wake latency, tick busy time; then the
   same with ACT in a `robot-stack policy-server` process of its own (ipc, as `deploy --remote`);
   beside them the loop with the planner idle (policy answering instantly) as the baseline.
2. **Planner → executor latency per transport.** (a) the bare link: `bench/deploy_link.py`'s echo
   round trip for this rig's observation (one 96×128 camera) over inproc, ipc, tcp; (b) in the
   runtime: capture → chunk arrival as the executor measures it, minus the planner's compute, with the
   planner thread bound on inproc, ipc or tcp loopback (the replay policy: compute ≈ 0).
3. **Success, real time vs lockstep.** By default the policy is `ScriptedReplayPolicy`: the scripted
   operator's plan as 1 s chunks, open loop (`--checkpoint` for a trained one, `--seeds` for its
   scenes). Lockstep: `robot-stack eval`'s rollout (chunks executed whole, sim time; a `--checkpoint`
   plans every tick with temporal ensembling, m = 0.01, as `robot-stack eval --ensemble 0.01`). Real
   time: the deploy runtime in `latest` (`--execute S`: each chunk run S seconds before the newest
   replaces it), `ensemble` (m = 0.01) and `rtc` modes, with 0 / 100 / 300 ms
   of added planner latency, the same seeds. For the scripted plan this measures what the runtime
   (real time, latency, ensembling, calibration, safety) costs a policy that is right —
   not the closed-loop robustness of a learnt one. `--matched-lockstep` adds, for each `ensemble`
   case, lockstep with the planning pattern real time had (its median plan period and planner
   latency, in ticks): the policy's cost of planning that way, apart from anything the runtime does;
   `--lockstep-phases N` runs it at N offsets of that pattern against the scene (real time's plans
   fall at any offset), and `--lockstep-pattern REPLAN,LATENCY` runs only that lockstep.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# This file's name is the runtime package's: keep bench/ behind the repository root on the path, so
# `import deploy` finds the package (the script itself runs as __main__).
HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE))
import _common  # noqa: E402
import deploy_link  # noqa: E402  (it puts bench/ first on the path again)

sys.path[:] = [str(HERE.parent)] + [
    p for p in sys.path if Path(p or ".").resolve() not in (HERE, HERE.parent)
]
sys.path.append(str(HERE))

REPO = Path(__file__).resolve().parent.parent
TASK = "transfer_cube"
SEED_START = 1000  # held out from demonstrations, as in evaluation
# The watchdog must outlast the slowest planner cycle measured (300 ms added + compute + a tick).
WATCHDOG = {"hold_after_s": 1.0, "park_after_s": 3.0}
CHECKPOINT_EPISODE_S = 15.0  # a trained policy's episode limit, as in evaluation
ENSEMBLE_M = 0.01  # ACT's; the real-time `ensemble` mode and a checkpoint's lockstep baseline
CHECKPOINT_CAMERA_SIZE = (
    480,
    640,
)  # the camera as recorded for bench/success.py's training (resized by the policy)


def make_rig(folder: Path, size=(96, 128), task: str = TASK):
    from drivers.sim.rig import rig_with_ports_in
    from robot_stack.rig import RigSpec, load_rig

    data = load_rig(REPO / "hardware.yaml").model_dump(mode="json")
    data["cameras"] = {"cam_high": {**data["cameras"]["cam_high"], "height": size[0], "width": size[1]}}
    data["sim"]["task"] = task
    data["deploy"].update(
        command_endpoint=f"ipc://{folder}/cmd.sock",
        telemetry_endpoint=f"ipc://{folder}/tel.sock",
        plan_endpoint=f"inproc://bench-{os.getpid()}",
    )
    data["deploy"]["safety"].update(ramp_in_s=1.0, park_s=1.5)
    data["deploy"]["watchdog"].update(WATCHDOG)
    return rig_with_ports_in(RigSpec.model_validate(data), folder)


@dataclass
class SimProcess:
    client: object  # drivers.sim.control.SimControlClient
    calibrations: dict
    camera_endpoint: str

    def reset(self, seed: int) -> None:
        self.client.call("reset", seed=seed)

    def status(self) -> dict:
        return self.client.call("status")

    def success(self) -> bool:
        return bool(self.status()["success"])


@contextlib.contextmanager
def sim_process(rig, folder: Path, seed: int = 1):
    """The simulated rig as its own `robot-stack sim` process — as hardware is outside the daemon's
    process, the emulated servos, physics and renderer do not share its interpreter — with its arms
    auto-calibrated first (the offsets persist in the simulated motors' EEPROM files)."""
    import subprocess

    import yaml

    from calibration.guides import AutoGuide
    from calibration.procedure import calibrate_arm
    from drivers.dynamixel.arm import DynamixelArm
    from drivers.sim.control import SimControlClient
    from drivers.sim.rig import SimRig
    from robot_stack.errors import RobotStackError

    with SimRig(rig, realtime=True, operator=False, seed=seed) as sim:
        calibrations = {}
        for name in rig.arms:
            with DynamixelArm.from_rig(rig, name, torque=False) as arm:
                calibrations[name] = calibrate_arm(arm, AutoGuide(sim), rig.name)
        for name in rig.arms:
            sim.pose_arm(name, None)
        with DynamixelArm.from_rig(rig, "left_follower"), DynamixelArm.from_rig(rig, "right_follower"):
            pass
    rig_path = folder / "rig.yaml"
    rig_path.write_text(yaml.safe_dump(rig.model_dump(mode="json"), sort_keys=False))
    control, cameras = f"ipc://{folder}/sim-control.sock", f"ipc://{folder}/sim-cameras.sock"
    command = [sys.executable, "-m", "robot_stack.app.cli", "--rig", str(rig_path), "sim", "--no-operator"]
    command += ["--seed", str(seed), "--control", control, "--camera-endpoint", cameras]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = SimControlClient(control, timeout_s=5.0)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client.call("status")
                break
            except RobotStackError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the simulator process did not start") from None
        yield SimProcess(client, calibrations, cameras)
    finally:
        client.close()
        process.terminate()
        process.wait(30)


def settings(endpoint: str, **overrides):
    from deploy.daemon import DeploySettings

    # A generous bus deadline: the simulated motors answer from Python on a shared, loaded 2-core
    # machine (a real bus gets the default 50 ms).
    return DeploySettings(
        camera_options={"cam_high": {"endpoint": endpoint}}, bus_deadline_s=2.0, **overrides
    )


def act_checkpoint(folder: Path, rig) -> Path:
    from policies import make_config, train
    from policies.store_view import open_store
    from robot_stack.app.scripted_demos import record_scripted_demos

    record_scripted_demos(rig, folder / "demos.zarr", TASK, range(2), only_successes=False, max_seconds=1.0)
    config = make_config("act", "sim-cpu", ["train.steps=1", "train.val_every=1"])
    train(config, open_store(folder / "demos.zarr"), folder / "act", show_progress=False)
    return folder / "act"


def act_description() -> str:
    from policies import make_config

    config = make_config("act", "sim-cpu")
    h, w = config.data.image_size
    return f"act sim-cpu (chunk {config.act.chunk_size}, width {config.act.hidden_dim}, {h}×{w} camera)"


class InstantPolicy:
    """Answers at once with the observed pose held for a chunk: the executor with an idle planner."""

    supports_prefix = True

    def __init__(self, spec):
        self.spec, self.dt, self.chunk_length = spec, spec.step_dt, 100

    def reset(self):
        pass

    def predict(self, observation, prefix=None, **_):
        from policies.inference import ActionChunk

        state = np.asarray(observation["state"], np.float32)
        return ActionChunk(np.tile(state, (self.chunk_length, 1)), observation["t"], self.dt)


def loop_figures(stats, planner: dict | None) -> dict:
    figures = {
        "ticks": stats.ticks,
        "achieved_rate_hz": round(stats.achieved_rate_hz, 3),
        "realtime_priority": stats.realtime,
        "overruns": stats.overruns,
        "skipped_ticks": stats.skipped_ticks,
        "period_error_ms": _rounded(stats.period_error),
        "wake_latency_ms": _rounded(stats.wake_latency),
        "busy_ms": _rounded(stats.busy),
        "sections_ms": {k: _rounded(v) for k, v in stats.sections.items()},
    }
    if planner is not None:
        figures["planner"] = {
            "chunks": planner["planned"],
            "compute_ms": planner["compute_ms"],
            "latency_ms": planner["latency_ms"],
        }
    return figures


def _rounded(p) -> dict:
    return {"p50": round(p.p50_ms, 3), "p99": round(p.p99_ms, 3), "max": round(p.max_ms, 3)}


def period_case(folder: Path, seconds: float, with_act: bool, planner_process: bool = False) -> dict:
    """The executor ticking for `seconds` while the planner runs ACT (or answers instantly). With
    `planner_process`, ACT runs in a `robot-stack policy-server` process of its own (one torch
    thread, ipc link), as `deploy --remote` uses it: the executor's process then holds only the loop
    and the bus threads, and no planner Python competes with them for the interpreter lock."""
    from deploy.daemon import DeployDaemon
    from policies import Policy

    rig = make_rig(folder)
    checkpoint = act_checkpoint(folder, rig) if with_act else None
    with contextlib.ExitStack() as stack:
        sim = stack.enter_context(sim_process(rig, folder))
        calibrations, endpoint = sim.calibrations, sim.camera_endpoint
        overrides: dict = {"checkpoint": checkpoint}
        policy = None
        if planner_process:
            overrides["remote"] = stack.enter_context(policy_server(checkpoint, folder))
        elif with_act:
            policy = Policy.load(checkpoint)
        else:
            from deploy.scripted_policy import ScriptedReplayPolicy

            policy = InstantPolicy(ScriptedReplayPolicy(rig, TASK, 1, image_size=(96, 128)).spec)
        daemon = DeployDaemon(rig, calibrations, settings(endpoint, **overrides), policy=policy).open()
        try:
            daemon.start(timeout_s=60.0)
            daemon.executor.loop.reset_stats()
            load_before = os.getloadavg()[0]
            time.sleep(seconds)
            stats = daemon.executor.loop.stats()
            planner = daemon.planner.stats() if daemon.planner is not None else None
            status = daemon.executor.status()
        finally:
            daemon.close()
    out = loop_figures(stats, planner)
    out["seconds"] = seconds
    out["policy"] = act_description() if with_act else "instant (planner idle)"
    out["planner"] = out.get("planner") or {}
    out["planner_where"] = (
        "policy-server process (1 torch thread), ipc" if planner_process else "thread in the daemon, inproc"
    )
    out["chunks_accepted"] = status.get("chunks", {}).get("accepted")
    out["watchdog_holds"] = status["safety"].get("watchdog_holds", 0)
    out["phase_at_end"], out["fault"] = status["phase"], status["fault"]
    out["load_average_1min"] = {"before": load_before, "after": os.getloadavg()[0]}
    return out


@contextlib.contextmanager
def policy_server(checkpoint: Path, folder: Path):
    """`robot-stack policy-server` on an ipc endpoint in `folder`; yields the endpoint once it listens."""
    import subprocess

    from robot_stack.app.child_process import stop_child

    endpoint = f"ipc://{folder}/plan.sock"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "robot_stack.app.cli",
        "--rig",
        str(folder / "rig.yaml"),
        "policy-server",
    ]
    command += ["--checkpoint", str(checkpoint), "--bind", endpoint, "--quiet"]
    log = open(folder / "policy-server.log", "w")  # noqa: SIM115 — closed below, after the process
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while not (folder / "plan.sock").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"policy-server did not start: {(folder / 'policy-server.log').read_text()}"
                )
            time.sleep(0.1)
        yield endpoint
    finally:
        stop_child(process, timeout_s=30)
        log.close()


def link_cases(n: int, tmp: Path) -> dict:
    """The bare link (bench/deploy_link.py's echo round trip) for this rig's observation size."""
    import multiprocessing as mp

    results = {}
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=deploy_link.echo_planner, args=("inproc://bench-link", None, ready, stop)
    )
    thread.start()
    ready.wait(5)
    results["inproc"] = deploy_link.round_trips("inproc://bench-link", None, "1x96x128", n)
    stop.set()
    thread.join()
    spawn = mp.get_context("spawn")
    for name, endpoint in (
        ("ipc", f"ipc://{tmp}/link.sock"),
        ("tcp", f"tcp://127.0.0.1:{deploy_link.free_port()}"),
    ):
        ready = spawn.Event()
        process = spawn.Process(target=deploy_link.echo_planner, args=(endpoint, None, ready), daemon=True)
        process.start()
        ready.wait(30)
        try:
            results[name] = deploy_link.round_trips(endpoint, None, "1x96x128", n)
        finally:
            process.terminate()
            process.join()
    return results


def runtime_latency_cases(folder: Path, seconds: float) -> dict:
    """Capture → chunk arrival in the running executor, minus compute, per transport of the plan link."""
    from deploy.daemon import DeployDaemon
    from deploy.scripted_policy import ScriptedReplayPolicy

    rig = make_rig(folder)
    results = {}
    with sim_process(rig, folder) as sim:
        calibrations, cam = sim.calibrations, sim.camera_endpoint
        for name, endpoint in (
            ("inproc", f"inproc://bench-rt-{os.getpid()}"),
            ("ipc", f"ipc://{folder}/plan.sock"),
            ("tcp", f"tcp://127.0.0.1:{deploy_link.free_port()}"),
        ):
            policy = ScriptedReplayPolicy(
                rig, TASK, 1, time_origin=time.monotonic() + 3600, image_size=(96, 128)
            )
            daemon = DeployDaemon(
                rig, calibrations, settings(cam, plan_endpoint=endpoint), policy=policy
            ).open()
            try:
                daemon.start()
                time.sleep(seconds)
                latency = np.array(daemon.executor._latency)
                compute = np.array(daemon.executor._compute)
                status = daemon.executor.status()
            finally:
                daemon.close()
            n = min(len(latency), len(compute))
            transit = (latency[-n:] - compute[-n:]) * 1000
            results[name] = {
                "chunks": int(n),
                "capture_to_arrival_ms": _ms(latency * 1000),
                "minus_compute_ms": _ms(transit),
                "compute_ms": _ms(compute * 1000),
                "phase_at_end": status["phase"],
                "events": status["event_counts"],  # a stalled camera or a watchdog hold shows here
            }
            print(f"deploy: runtime latency {name} {results[name]['minus_compute_ms']}", file=sys.stderr)
    return results


def _ms(values: np.ndarray) -> dict:
    if len(values) == 0:
        return {}
    return {
        "p50": round(float(np.percentile(values, 50)), 3),
        "p99": round(float(np.percentile(values, 99)), 3),
        "max": round(float(values.max()), 3),
    }


def lockstep_cases(
    folder: Path,
    seeds: list[int],
    checkpoint: Path | None = None,
    camera_size=CHECKPOINT_CAMERA_SIZE,
    replan_every: int = 1,
    latency_ticks: int = 0,
    phase_ticks: int = 0,
    step_limit: bool = False,
    fade_s: float = 0.0,
    task: str = TASK,
) -> list[dict]:
    """One lockstep episode per seed; a trained policy plans every `replan_every` ticks from the
    observation `latency_ticks` old (1, 0: every tick from the current one, as ACT was evaluated),
    the second plan at tick `phase_ticks` (0: at `replan_every`); `step_limit`: through the
    runtime's per-tick step limits; `fade_s`: the ensemble's fade (`deploy --fade`)."""
    from deploy.scripted_policy import ScriptedReplayPolicy
    from drivers.sim.rig import rig_with_ports_in
    from policies import Policy
    from robot_stack.app.evaluation.rollout import default_replan_every, run_episode

    rig = make_rig(folder, camera_size if checkpoint else (96, 128), task)
    out = []
    for seed in seeds:
        if checkpoint is None:
            policy = ScriptedReplayPolicy(rig, task, seed, time_origin=0.0)
            limit_s = policy.duration + 3.0
        else:
            policy, limit_s = Policy.load(checkpoint), CHECKPOINT_EPISODE_S
        with tempfile.TemporaryDirectory(prefix="bench_lockstep_") as ports:
            result = run_episode(
                policy,
                rig_with_ports_in(rig, ports),
                task,
                seed,
                max_seconds=limit_s,
                # a trained policy as `robot-stack eval --ensemble 0.01` runs it (the runtime's default
                # mode); the scripted plan's chunks are right as they are and run whole
                replan_every=default_replan_every(policy) if checkpoint is None else replan_every,
                ensemble_m=None if checkpoint is None else ENSEMBLE_M,
                latency_ticks=0 if checkpoint is None else latency_ticks,
                phase_ticks=0 if checkpoint is None else phase_ticks,
                step_limit=step_limit,
                ensemble_fade_s=0.0 if checkpoint is None else fade_s,
            )
        row = {"seed": seed, "success": result.success, "success_s": result.success_time_s}
        row.update(stage=result.stage, stages=result.stages)  # as real-time rows keep them
        if step_limit:
            row.update(
                step_limited_ticks=result.step_limited_ticks, step_limited=result.step_limited_by_joint
            )
        out.append(row)
    return out


def matched_lockstep(
    folder: Path, rows: list[dict], checkpoint: Path, camera_size, phases: int = 1, **options
) -> dict:
    """Lockstep with the planning pattern real time had: a plan every (median plan period) ticks,
    each from an observation (median planner latency) old. Against the real-time rows it says what
    the runtime loses beyond what planning that way costs the policy (nothing, if they agree)."""
    tick_ms = 1000.0 / make_rig(folder, camera_size).control_rate_hz
    replan = max(1, round(float(np.median([r["plan_period_ms"] for r in rows])) / tick_ms))
    latency = round(float(np.median([r["planner_latency_ms"]["p50"] for r in rows])) / tick_ms)
    seeds = [r["seed"] for r in rows]
    return lockstep_pattern(folder, seeds, checkpoint, camera_size, replan, latency, phases, **options)


def lockstep_pattern(
    folder: Path,
    seeds: list[int],
    checkpoint: Path,
    camera_size,
    replan: int,
    latency: int,
    phases: int,
    **options,
) -> dict:
    """Lockstep planning every `replan` ticks from observations `latency` ticks old, at `phases`
    offsets spread over the plan period: real time's plans fall at any offset against the scene, and
    a policy whose outcome turns on that offset shows it here as a spread between phases."""
    offsets = sorted({round(k * replan / phases) % replan for k in range(phases)})
    by_phase = {}
    for phase in offsets:
        rows = lockstep_cases(folder, seeds, checkpoint, camera_size, replan, latency, phase, **options)
        by_phase[str(phase)] = {**rate(rows), "per_episode": rows}
        print(
            f"deploy: lockstep every {replan} ticks, {latency} old, phase {phase}: "
            f"{by_phase[str(phase)]['successes']}/{len(rows)}",
            file=sys.stderr,
        )
    pooled = [row for case in by_phase.values() for row in case["per_episode"]]
    first = by_phase[str(offsets[0])]
    return {
        "replan_every_ticks": replan,
        "latency_ticks": latency,
        **options,
        **rate(first["per_episode"]),
        "per_episode": first["per_episode"],
        **({"phases": by_phase, "pooled": rate(pooled)} if len(offsets) > 1 else {}),
    }


def realtime_cases(
    folder: Path,
    mode: str,
    latency_s: float,
    seeds: list[int],
    checkpoint: Path | None = None,
    camera_size=CHECKPOINT_CAMERA_SIZE,
    execute_s: float = 0.0,
    pair_frames: bool = True,
    plan_interval_s: float = 0.0,
    ramp_in_s: float | None = None,
    fade_s: float = 0.0,
    task: str = TASK,
) -> list[dict]:
    """One daemon per episode (a fault ends that episode only): sim reset, start, until success or
    the plan's duration + 3 s, stop (park)."""
    from deploy.daemon import DeployDaemon
    from deploy.scripted_policy import ScriptedReplayPolicy

    rig = make_rig(folder, camera_size if checkpoint else (96, 128), task)
    ramp = rig.deploy.safety.ramp_in_s if ramp_in_s is None else ramp_in_s
    out = []
    with sim_process(rig, folder) as sim:
        calibrations, cam = sim.calibrations, sim.camera_endpoint
        for seed in seeds:
            config = settings(
                cam,
                mode=mode,
                m=ENSEMBLE_M,
                execute_s=execute_s,
                fade_s=fade_s,
                pair_frames=pair_frames,
                plan_interval_s=plan_interval_s,
                ramp_in_s=ramp_in_s,
                added_latency_s=latency_s,
                autostart=False,
                checkpoint=checkpoint,
            )
            if checkpoint is None:
                policy = ScriptedReplayPolicy(rig, task, seed, time_origin=float("inf"), image_size=(96, 128))
                limit_s = policy.duration + 3.0
            else:
                policy, limit_s = None, CHECKPOINT_EPISODE_S
            daemon = DeployDaemon(rig, calibrations, config, policy=policy).open()
            row: dict = {"seed": seed}
            try:
                daemon.start()
                executor = daemon.executor
                sim.reset(seed)
                if policy is not None:
                    policy.restart(seed, time.monotonic() + ramp + 0.1)
                started = time.monotonic()
                sim_started = sim.status()["sim_time"]
                ok, error, _ = executor.submit("start")
                success_at = None
                stages: list = []  # [seconds since start, stage] at each change: where a failure began
                while ok and not executor.ended and time.monotonic() - started < ramp + limit_s:
                    now = sim.status()
                    if not stages or stages[-1][1] != now["stage"]:
                        stages.append([round(time.monotonic() - started, 2), now["stage"]])
                    if now["success"]:
                        success_at = time.monotonic() - started - ramp - 0.1
                        break
                    time.sleep(0.1)
                sim_status = sim.status()
                wall_s = time.monotonic() - started
                status = executor.status()
                executor.submit("stop", {"success": success_at is not None})
                executor.wait_for(("parked",), 10)
                row.update(
                    success=success_at is not None,
                    success_s=None if success_at is None else round(success_at, 3),
                    watchdog_holds=status["safety"].get("watchdog_holds", 0),
                    safety=status["safety"],  # step-limited ticks, joint-limit clips, ...
                    planner_latency_ms=status["planner_latency_ms"],
                    frame_age_ms=status["frame_age_ms"],
                    joints_after_frame_ms=status["joints_after_frame_ms"],
                    period_ms=status["period_ms"],
                    overruns=status["overruns"],
                    plan_period_ms=round(1000 * wall_s / max(1, status["chunks"]["accepted"]), 1),
                    depth=status["depth"],
                    fault=status["fault"] or (None if ok else error),
                    stage=sim_status.get("stage"),
                    stages=stages,
                    # physics behind the wall clock shows as sim time short of wall time
                    sim_s_per_wall_s=round((sim_status["sim_time"] - sim_started) / wall_s, 3),
                    physics_lag_ms=sim_status.get("physics_lag_ms"),
                )
            finally:
                daemon.close()
            out.append(row)
            print(f"deploy: {mode} +{latency_s * 1000:.0f} ms seed {seed}: {row}", file=sys.stderr)
    return out


def rate(rows: list[dict]) -> dict:
    wins = sum(r["success"] for r in rows)
    times = [r["success_s"] for r in rows if r["success_s"] is not None]
    return {
        "successes": wins,
        "episodes": len(rows),
        "success_rate": wins / max(1, len(rows)),
        "mean_success_s": round(float(np.mean(times)), 3) if times else None,
    }


def main() -> None:
    from drivers.sim.tasks import TASKS, single_task_named
    from policies.checkpoint import load_checkpoint

    parser = _common.parser(__doc__)
    parser.add_argument(
        "--sections",
        default="executor,latency,success",
        help="what to measure, comma-separated: executor (1), latency (2), success (3); default all",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="(3) with this trained checkpoint (its rig: cam_high) instead of the scripted replay policy",
    )
    parser.add_argument(
        "--task",
        choices=sorted(TASKS),
        help=f"(3) the simulated task the episodes run (default: the checkpoint's own; {TASK} for the "
        "scripted replay policy)",
    )
    parser.add_argument("--episodes", type=int, help="(3) episodes per case (default 5; quick 1)")
    parser.add_argument(
        "--seeds",
        help="(3) scene seeds, comma-separated, one episode each, repeats allowed (default: 1000 on, "
        "--episodes of them)",
    )
    parser.add_argument(
        "--modes",
        default="latest,ensemble,rtc",
        help="(3) real-time modes, comma-separated (default latest,ensemble,rtc; rtc needs diffusion/flow)",
    )
    parser.add_argument(
        "--latencies-ms",
        help="(3) added planner latencies, comma-separated (default 0,100,300; quick 0,300)",
    )
    parser.add_argument(
        "--execute",
        type=float,
        default=0.0,
        metavar="S",
        help="(3) latest mode: run each chunk this long before a newer one replaces it (deploy --execute)",
    )
    parser.add_argument(
        "--no-lockstep",
        action="store_true",
        help="(3) real time only (the lockstep baseline is deterministic: rerun it only when the policy changed)",
    )
    parser.add_argument(
        "--plan-interval-ms",
        type=float,
        default=0.0,
        help="(3) start plans at most this often (default 0: back to back, as fast as the CPU allows)",
    )
    parser.add_argument(
        "--matched-lockstep",
        action="store_true",
        help="(3) after each ensemble case, lockstep with its planning pattern (plan period and latency)",
    )
    parser.add_argument(
        "--lockstep-phases",
        type=int,
        default=1,
        metavar="N",
        help="(3) matched lockstep at N offsets of its planning pattern against the scene (default 1)",
    )
    parser.add_argument(
        "--lockstep-pattern",
        metavar="REPLAN,LATENCY",
        help="(3) with --checkpoint: lockstep alone, a plan every REPLAN ticks from an observation "
        "LATENCY ticks old, at --lockstep-phases offsets (no real-time cases)",
    )
    parser.add_argument(
        "--lockstep-step-limit",
        action="store_true",
        help="(3) matched / pattern lockstep through the runtime's per-tick step limits (deploy.safety)",
    )
    parser.add_argument(
        "--fade-ms",
        type=float,
        default=0.0,
        help="(3) ensemble: fade each chunk in after it arrives and out at its end (deploy --fade), in "
        "real time and in matched / pattern lockstep (default 0)",
    )
    parser.add_argument(
        "--ramp-in-s",
        type=float,
        help="(3) the policy's ramp-in from the start pose (default: the bench rig's 1 s)",
    )
    parser.add_argument(
        "--no-frame-pairing",
        action="store_true",
        help="(3) send each observation with the newest tick's joints, not those of the tick after its "
        "frames' capture (the runtime's default pairing)",
    )
    parser.add_argument(
        "--camera-size",
        default="480x640",
        help="(3) HxW the sim renders cam_high at for --checkpoint: the size it was trained from "
        "(default 480x640, bench/success.py's recordings)",
    )
    args = parser.parse_args()
    sections = {part.strip() for part in args.sections.split(",") if part.strip()}
    unknown = sections - {"executor", "latency", "success"}
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    os.environ.setdefault("MUJOCO_GL", "egl")
    import torch

    torch.set_num_threads(1)  # the planner's inference leaves the other core to the loop and the sim
    quick = args.quick
    period_s = 20.0 if quick else 300.0
    episodes = args.episodes or (1 if quick else 5)
    seeds = (
        [int(x) for x in args.seeds.split(",")]
        if args.seeds
        else list(range(SEED_START, SEED_START + episodes))
    )
    camera_size = tuple(int(x) for x in args.camera_size.lower().split("x"))
    latencies = (0.0, 0.3) if quick else (0.0, 0.1, 0.3)
    if args.latencies_ms:
        latencies = tuple(float(x) / 1000 for x in args.latencies_ms.split(","))
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if set(modes) - {"latest", "ensemble", "rtc"}:
        parser.error(f"--modes: {args.modes!r}; choose from latest, ensemble, rtc")
    if args.execute and "latest" not in modes:
        parser.error("--execute applies to the latest mode; add it to --modes")
    if args.task is None and args.checkpoint is not None:
        trained = load_checkpoint(args.checkpoint).trained_on.get("tasks", [])
        args.task = single_task_named(trained)
        if args.task is None:  # an older checkpoint, or one trained on several tasks: no guessing
            parser.error(f"--task: the checkpoint names {trained or 'no task'}; say which task to run")
    args.task = args.task or TASK
    result: dict = {"task": args.task, "watchdog": WATCHDOG}
    with tempfile.TemporaryDirectory(prefix="bench_deploy_") as tmp:
        tmp = Path(tmp)

        def sub(name: str) -> Path:
            (tmp / name).mkdir()
            return tmp / name

        def save() -> None:  # after every section: a late failure keeps what was measured
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(
                    json.dumps({"machine": _common.machine(), "partial": True, **result}, indent=2)
                )

        if "executor" in sections:
            result["executor_with_act_planner"] = period_case(sub("act"), period_s, with_act=True)
            save()
            result["executor_with_act_planner_process"] = period_case(
                sub("act_process"), period_s, with_act=True, planner_process=True
            )
            save()
            result["executor_planner_idle"] = period_case(sub("idle"), min(period_s, 60.0), with_act=False)
            save()
        if "latency" in sections:
            result["link_round_trip_ms"] = link_cases(200 if quick else 1000, sub("link"))
            result["runtime_latency"] = runtime_latency_cases(sub("latency"), 10.0 if quick else 30.0)
            save()
        if "success" not in sections:
            _common.write(result, args.out)
            return
        checkpoint = args.checkpoint
        if checkpoint is not None and "rtc" in modes:
            from policies import Policy

            if not Policy.load(checkpoint).supports_prefix:
                modes.remove("rtc")  # real-time chunking needs a diffusion or flow policy
        # lockstep planned as real time plans: at these offsets, through these limits, with this fade
        lockstep_options = {
            "task": args.task,
            "phases": args.lockstep_phases,
            "step_limit": args.lockstep_step_limit,
            "fade_s": args.fade_ms / 1000,
        }
        if args.lockstep_pattern:
            if checkpoint is None:
                parser.error("--lockstep-pattern needs --checkpoint")
            try:
                replan, latency = (int(x) for x in args.lockstep_pattern.split(","))
            except ValueError:
                parser.error(
                    f"--lockstep-pattern {args.lockstep_pattern!r}: expected REPLAN,LATENCY ticks, e.g. 19,19"
                )
            result["success"] = {
                "policy": f"checkpoint {checkpoint}",
                "seeds": seeds,
                "lockstep_pattern": lockstep_pattern(
                    sub("pattern"), seeds, checkpoint, camera_size, replan, latency, **lockstep_options
                ),
            }
            _common.write(result, args.out)
            return
        lockstep = (
            []
            if args.no_lockstep
            else lockstep_cases(sub("lockstep"), seeds, checkpoint, camera_size, task=args.task)
        )
        result["success"] = {"lockstep": {**rate(lockstep), "per_episode": lockstep}}
        save()
        realtime = {}
        for mode in modes:
            execute_s = args.execute if mode == "latest" else 0.0
            label = f"latest, execute {execute_s:g} s" if execute_s else mode
            for latency in latencies:
                rows = realtime_cases(
                    sub(f"rt_{mode}_{int(latency * 1000)}"),
                    mode,
                    latency,
                    seeds,
                    checkpoint,
                    camera_size,
                    execute_s,
                    pair_frames=not args.no_frame_pairing,
                    plan_interval_s=args.plan_interval_ms / 1000,
                    ramp_in_s=args.ramp_in_s,
                    fade_s=args.fade_ms / 1000 if mode == "ensemble" else 0.0,
                    task=args.task,
                )
                case = realtime[f"{label}/+{int(latency * 1000)}ms"] = {**rate(rows), "per_episode": rows}
                if args.matched_lockstep and checkpoint is not None and mode == "ensemble":
                    case["lockstep_matched"] = matched_lockstep(
                        sub(f"ls_{int(latency * 1000)}"), rows, checkpoint, camera_size, **lockstep_options
                    )
                result["success"]["realtime"] = realtime
                save()
        result["success"] = {
            "policy": (
                "ScriptedReplayPolicy (the scripted operator's plan as 1 s chunks; open loop)"
                if checkpoint is None
                else f"checkpoint {checkpoint}"
            ),
            "seeds": seeds,
            "lockstep_execution": (
                "chunks run whole"
                if checkpoint is None
                else f"a plan every tick, temporal ensembling m = {ENSEMBLE_M}"
            ),
            "lockstep": {**rate(lockstep), "per_episode": lockstep},
            "realtime": realtime,
            "frame_pairing": not args.no_frame_pairing,
            "plan_interval_ms": args.plan_interval_ms,
            "fade_ms": args.fade_ms,
        }
    _common.write(result, args.out)


if __name__ == "__main__":
    main()
