"""Teleoperation: four arms on four ports through the real driver, at 1 Mbps with wire-time modelling.

    python bench/teleop.py --out docs/bench/teleop.json     # 60 s at 50 Hz, 20 s unthrottled
    python bench/teleop.py --quick                          # 10 s and 5 s

The simulated rig runs in its own process (`robot-stack sim --wire-timing --no-cameras`), as motors
are separate hardware; this process calibrates the four arms through the simulator's hand, then runs
the teleop loop (calibrated leaders → step-limited followers, the scripted operator moving the
leaders):
- unthrottled: ticks back to back — how fast a full tick (four concurrent reads, mapping, two
  Sync Writes) can go;
- 50 Hz: the rate loop's period error p50/p99/max and overruns;
- leader → follower latency: from the leader reading's last reply byte to the follower's goal
  leaving in its Sync Write.
Targets (issue 5): unthrottled ≥ 200 Hz, p99 period error < 1 ms, latency p99 < 5 ms.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from calibration.guides import AutoGuide, RemoteHand  # noqa: E402
from calibration.procedure import calibrate_arm  # noqa: E402
from calibration.rig_arms import RigArms  # noqa: E402
from drivers.dynamixel.arm import DynamixelArm  # noqa: E402
from drivers.sim.control import SimControlClient  # noqa: E402
from drivers.sim.rig import rig_with_ports_in  # noqa: E402
from robot_stack.app.teleop.loop import TeleopLoop  # noqa: E402
from robot_stack.rig import load_rig  # noqa: E402


def start_sim(rig_file: Path, control: str, seconds: float) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "robot_stack.app.cli", "--rig", str(rig_file), "sim", "--wire-timing"]
    cmd += ["--no-cameras", "--no-operator", "--control", control, "--seconds", str(seconds)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def calibrate_all(rig, control: SimControlClient) -> dict:
    guide = AutoGuide(RemoteHand(control))
    calibrations = {}
    for name in rig.arms:
        with DynamixelArm.from_rig(rig, name, torque=False) as arm:
            calibrations[name] = calibrate_arm(arm, guide, rig.name)
    for name in rig.arms:  # followers hold where they are before the loop starts
        if rig.arms[name].role == "follower":
            DynamixelArm.from_rig(rig, name).open().close()
    return calibrations


def unthrottled(loop: TeleopLoop, seconds: float) -> dict:
    loop.start()
    durations = []
    end = time.monotonic() + seconds
    while (now := time.monotonic()) < end:
        loop.tick()
        durations.append(time.monotonic() - now)
    ms = np.array(durations) * 1000
    return {
        "seconds": seconds,
        "ticks": len(durations),
        "rate_hz": len(durations) / seconds,
        "tick_ms": {
            "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)),
            "max": float(ms.max()),
        },
    }


def at_rate(loop: TeleopLoop, seconds: float) -> dict:
    loop.latencies.clear()
    stats = loop.run(threading.Event(), duration_s=seconds, park=False)
    return {
        "seconds": seconds,
        "rate_hz": stats.rate_hz,
        "achieved_rate_hz": stats.achieved_rate_hz,
        "ticks": stats.ticks,
        "overruns": stats.overruns,
        "realtime": stats.realtime,
        "period_error_ms": stats.period_error.__dict__,
        "busy_ms": stats.busy.__dict__,
        "sections_ms": {name: p.__dict__ for name, p in stats.sections.items()},
        "leader_to_follower_latency_ms": loop.latency_percentiles(),
    }


def main() -> None:
    args = _common.parser(__doc__).parse_args()
    rate_s, burst_s = (10.0, 5.0) if args.quick else (60.0, 20.0)
    workdir = Path(tempfile.mkdtemp(prefix="teleop_bench_"))
    rig = rig_with_ports_in(load_rig(Path(__file__).resolve().parent.parent / "hardware.yaml"), workdir)
    rig_file = workdir / "rig.yaml"
    rig_file.write_text(yaml.safe_dump(rig.model_dump(), sort_keys=False))
    control_endpoint = f"ipc://{workdir}/control.sock"
    sim = start_sim(rig_file, control_endpoint, rate_s + burst_s + 120)
    try:
        with SimControlClient(control_endpoint, timeout_s=30) as control:
            control.call("status")
            print("teleop: calibrating four arms", file=sys.stderr)
            calibrations = calibrate_all(rig, control)
            control.call("reset", seed=0)
            control.call("operator", enabled=True)
            with RigArms(rig, calibrations) as arms:
                print(f"teleop: unthrottled, {burst_s:g} s", file=sys.stderr)
                burst = unthrottled(TeleopLoop(rig, arms, ramp_in_s=0.5, bus_deadline_s=1.0), burst_s)
                control.call("reset", seed=1)
                print(f"teleop: 50 Hz, {rate_s:g} s", file=sys.stderr)
                paced = at_rate(TeleopLoop(rig, arms, ramp_in_s=0.5, bus_deadline_s=1.0), rate_s)
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    latency = paced["leader_to_follower_latency_ms"]
    result = {
        "bench": "teleop",
        "setup": "4 arms (2×7 leader motors incl. shadows 9, 2×9 follower motors), 4 ports, 1 Mbps, "
        "wire-time modelling on, return delay 0, simulator in its own process",
        "unthrottled": burst,
        "at_50hz": paced,
        "targets": {"unthrottled_hz": 200, "period_error_p99_ms": 1.0, "latency_p99_ms": 5.0},
        "meets": {
            "unthrottled": burst["rate_hz"] >= 200,
            "period_error_p99": paced["period_error_ms"]["p99_ms"] < 1.0,
            "latency_p99": latency.get("p99_ms", float("inf")) < 5.0,
        },
    }
    _common.write(result, args.out)


if __name__ == "__main__":
    main()
