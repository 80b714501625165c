"""`robot-stack deploy`: the policy drives the followers at the rig's control rate (deploy/daemon.py)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from robot_stack.app.signals import stop_on_signals
from robot_stack.errors import RobotStackError
from robot_stack.rig import load_rig

EXAMPLES = """\
examples:
  robot-stack deploy --checkpoint runs/act                   the policy drives until Ctrl-C (then parks)
  robot-stack deploy --checkpoint runs/act --seconds 60      park and exit after 60 s
  robot-stack deploy --checkpoint runs/dp --mode rtc         real-time chunking (diffusion / flow policies)
  robot-stack deploy --checkpoint runs/act --mode latest     newest chunk only (no ensembling)
  robot-stack deploy --checkpoint runs/act --mode latest --execute 0.5
                                                             run each chunk 0.5 s, then take the newest
  robot-stack deploy --checkpoint runs/act --m 0.05          ensembling weight rate (ACT's is 0.01)
  robot-stack deploy --checkpoint runs/act --fade 0.1        fade each chunk in and out over 0.1 s
  robot-stack deploy --checkpoint runs/act --record-to fixes.zarr   record runs and interventions (HG-DAgger)
  robot-stack deploy --checkpoint runs/act --wait            hold still until `robot-stack ctl start`
  robot-stack deploy --remote tcp://gpu-host:5555 --keys ~/.robot_stack/keys
                                                             plan on a `robot-stack policy-server` elsewhere
  robot-stack deploy --checkpoint runs/act --task transfer_cube --seed 1000 --episodes 10
                                                             sim rig: 10 episodes, success rate at the end

While it runs, at its terminal: t take over (the leaders drive), r release, e or space e-stop,
q stop; from anywhere: `robot-stack ctl status | start | stop | estop | takeover | release` and
`robot-stack ctl watch` (live telemetry). Ctrl-C or SIGTERM parks the followers, applies
deploy.safety.torque_on_stop and exits 0; a bus fault parks what still works and exits 1 naming the
arm and motor. Needs calibrated arms (`robot-stack calibrate`).
"""

SIM_EPISODE_S = 15.0  # sim: an episode's time limit after the ramp-in, unless --seconds
SUCCESS_TAIL_S = 0.5  # sim: keep going this long after success before parking
# The simulated motors answer from Python on a machine shared with physics, rendering and the planner:
# give their bus the slack a real one does not get (hardware: calibration.tick_reader.BUS_DEADLINE_S, 50 ms).
SIM_BUS_DEADLINE_S = 0.5


@dataclass
class EpisodeOutcome:
    seed: int
    success: bool
    seconds: float
    success_s: float | None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "deploy",
        help="run a trained policy on the followers (planner + 50 Hz executor + safety)",
        description="Start the deploy daemon: a planning thread runs the policy on the latest observation, "
        "the execution thread blends every chunk that covers each tick (temporal ensembling by time), "
        "filters it through the safety layer and writes the followers. Answers `robot-stack ctl`.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", type=Path, metavar="PATH", help="run or checkpoint folder")
    p.add_argument(
        "--mode", default="ensemble", choices=["ensemble", "latest", "rtc"], help="ensembling mode"
    )
    p.add_argument("--m", type=float, default=0.01, help="ensembling weight rate per tick (default 0.01)")
    p.add_argument(
        "--execute",
        type=float,
        default=0.0,
        metavar="S",
        help="--mode latest: run each chunk this long before a newer one replaces it (default 0: at once; "
        "a whole ACT chunk of 50 at 50 Hz is 1.0)",
    )
    p.add_argument(
        "--fade",
        type=float,
        default=0.0,
        metavar="S",
        help="--mode ensemble: fade each chunk in over S seconds after it arrives and out over its last S "
        "(default 0; a slow planner's chunks otherwise step the blend at every arrival)",
    )
    p.add_argument(
        "--remote", metavar="ENDPOINT", help="a policy-server's tcp://HOST:PORT (default: plan here)"
    )
    p.add_argument(
        "--keys", type=Path, metavar="DIR", help="Curve keys (default: the rig's deploy.curve_keys_dir)"
    )
    p.add_argument("--device", default="cpu", help="torch device for the local planner (default cpu)")
    p.add_argument("--steps", type=int, help="DDIM / Euler steps (diffusion and flow; default: as trained)")
    p.add_argument(
        "--added-latency-ms", type=float, default=0.0, metavar="MS", help="hold every chunk back (benchmarks)"
    )
    p.add_argument(
        "--plan-interval-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="plan at most this often, leaving CPU to the rest of the robot PC (default 0: whenever the "
        "planner is free)",
    )
    p.add_argument(
        "--record-to", type=Path, metavar="DATASET", help="record each run as an episode (appends)"
    )
    p.add_argument(
        "--seconds", type=float, help="stop after this long (sim: per episode; default: until Ctrl-C)"
    )
    p.add_argument(
        "--wait", action="store_true", help="start idle; the policy drives on `robot-stack ctl start`"
    )
    p.add_argument("--no-leaders", action="store_true", help="leave the leader arms alone (no takeover)")
    p.add_argument("--ramp-in", type=float, metavar="S", help="ramp-in time (default: rig file)")
    p.add_argument(
        "--bus-deadline",
        type=float,
        metavar="S",
        help="an arm silent this long stops the runtime (default 0.05 s; sim rig 0.5 s)",
    )
    p.add_argument("--quiet", action="store_true", help="no live panel: events as log lines (systemd)")
    sim = p.add_argument_group("simulated rig")
    sim.add_argument("--task", help="sim: the task (default: the rig file's)")
    sim.add_argument("--seed", type=int, help="sim: scene seed of the first episode")
    sim.add_argument("--episodes", type=int, default=1, help="sim: episodes, one seed each (default 1)")
    sim.add_argument(
        "--operator",
        choices=["none", "scripted"],
        default="none",
        help="sim: who moves a limp leader (takeover)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import logging

    from calibration.files import load_rig_calibration
    from calibration.tick_reader import BUS_DEADLINE_S
    from deploy.daemon import DeployDaemon, DeploySettings, check_settings

    if args.checkpoint is None and args.remote is None:
        raise RobotStackError("deploy needs --checkpoint PATH (or --remote tcp://HOST:PORT)")
    if args.episodes < 1:
        raise RobotStackError(f"--episodes {args.episodes}: nothing to run", hint="use 1 or more")
    console = Console(highlight=False)
    rig = load_rig(args.rig)
    is_sim = rig.backend == "sim"
    settings = DeploySettings(
        checkpoint=args.checkpoint,
        mode=args.mode,
        m=args.m,
        execute_s=args.execute,
        fade_s=args.fade,
        remote=args.remote,
        keys_dir=args.keys,
        device=args.device,
        steps=args.steps,
        added_latency_s=args.added_latency_ms / 1000,
        plan_interval_s=args.plan_interval_ms / 1000,
        record_to=args.record_to,
        task=args.task or (rig.sim.task if is_sim and rig.sim else "deploy"),
        autostart=not (args.wait or is_sim),
        leaders=not args.no_leaders,
        ramp_in_s=args.ramp_in,
        bus_deadline_s=args.bus_deadline or (SIM_BUS_DEADLINE_S if is_sim else BUS_DEADLINE_S),
    )
    check_settings(rig, settings)  # before anything is opened: checkpoint vs rig, endpoints and keys
    calibrations = load_rig_calibration(rig, args.rig)
    if args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    with contextlib.ExitStack() as stack:
        stack.enter_context(_interrupt_on_sigterm())  # while starting up: SIGTERM unwinds like Ctrl-C
        session = None
        if is_sim:
            session = _open_sim(stack, rig, args, settings)
        daemon = stack.enter_context(DeployDaemon(rig, calibrations, settings))
        console.print(
            f"deploy: {daemon.status()['daemon']['policy']} from {args.checkpoint or args.remote}, mode {args.mode}"
            + (f", warm-up {daemon.warmup_ms:.0f} ms" if daemon.warmup_ms is not None else "")
            + f"; commands on {daemon.commands.endpoint}, telemetry on {daemon.publisher.endpoint}"
        )

        def work(stop: threading.Event):
            daemon.start()
            outcomes = []
            if is_sim and not args.wait:
                outcomes = _sim_episodes(daemon, session, args, stop, console)
            else:
                _wait(daemon, stop, args.seconds)
            daemon.stop()
            return daemon.join(), outcomes

        if args.quiet:
            report, outcomes = _run_quiet(work)
        else:
            from robot_stack.app.deploy_keys import DeployKeys
            from robot_stack.app.deploy_panel import deploy_panel
            from robot_stack.app.live import run_with_panel

            stop = threading.Event()
            with DeployKeys(lambda command: daemon.executor.submit(command), stop) as keys:
                report, outcomes = run_with_panel(
                    work,
                    lambda: deploy_panel(daemon.status(), keys=[keys.help, *keys.answers]),
                    console,
                    stop=stop,
                )
        recorded = daemon.recorder
    _summary(console, report, outcomes, recorded)
    return 0


def _open_sim(stack: contextlib.ExitStack, rig, args, settings):
    """The simulated rig behind the deploy: a running `robot-stack sim` serving these ports, or one
    started here as a child process — as hardware is outside the daemon's process, so the emulated
    servos, physics and renderer never wait on the planner's interpreter lock."""
    from drivers.sim.camera_wire import DEFAULT_CAMERA_ENDPOINT
    from drivers.sim.control import DEFAULT_ENDPOINT
    from robot_stack.app.sim_session import SimSession

    if _serves(rig, DEFAULT_ENDPOINT):
        control, cameras = DEFAULT_ENDPOINT, DEFAULT_CAMERA_ENDPOINT
    else:
        private = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="robot_stack_deploy_")))
        control, cameras = f"ipc://{private}/sim-control.sock", f"ipc://{private}/sim-cameras.sock"
        _start_sim_process(stack, args, control, cameras, private / "sim.log")
    session = stack.enter_context(
        SimSession(
            rig,
            operator=args.operator == "scripted",
            task=args.task,
            seed=args.seed,
            control_endpoint=control,
        )
    )
    settings.camera_options = {n: {"endpoint": cameras} for n, c in rig.cameras.items() if c.driver == "sim"}
    return session


def _serves(rig, endpoint: str) -> bool:
    from drivers.sim.control import SimControlClient

    client = SimControlClient(endpoint, timeout_s=0.3)
    try:
        status = client.call("status")
    except RobotStackError:
        return False
    finally:
        client.close()
    return status.get("ports") == {name: arm.port for name, arm in rig.arms.items()}


def _start_sim_process(stack: contextlib.ExitStack, args, control: str, cameras: str, log_path: Path) -> None:
    import subprocess
    import sys

    from robot_stack.app.child_process import stop_child

    command = [sys.executable, "-m", "robot_stack.app.cli", "--rig", str(args.rig), "sim"]
    command += ["--control", control, "--camera-endpoint", cameras]
    command += [] if args.operator == "scripted" else ["--no-operator"]
    command += ["--task", args.task] if args.task else []
    command += ["--seed", str(args.seed)] if args.seed is not None else []
    log = stack.enter_context(open(log_path, "w"))
    # its own session: a Ctrl-C at the terminal reaches the daemon (which parks), not the simulated motors
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    stack.callback(stop_child, process)
    deadline = time.monotonic() + 90
    while not _serves_any(control):
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log_path.read_text()[-2000:] if log_path.exists() else ""
            raise RobotStackError(
                f"the simulator did not start for deploy:\n{tail}",
                hint="run `robot-stack sim` yourself in another terminal, then deploy again",
            )
        time.sleep(0.2)


def _serves_any(endpoint: str) -> bool:
    from drivers.sim.control import SimControlClient

    client = SimControlClient(endpoint, timeout_s=0.5)
    try:
        client.call("status")
        return True
    except RobotStackError:
        return False
    finally:
        client.close()


@contextlib.contextmanager
def _interrupt_on_sigterm():
    """SIGTERM raises KeyboardInterrupt (so everything opened so far is closed, the sim child too)
    until the control loop runs; from then on it parks first."""

    def interrupt(*_):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_quiet(work):
    stop = threading.Event()
    with stop_on_signals(stop):
        return work(stop)


def _wait(daemon, stop: threading.Event, seconds: float | None) -> None:
    started = time.monotonic()
    while not stop.wait(0.1):
        if not daemon.running or daemon.executor.ended:
            return
        if seconds is not None and time.monotonic() - started >= seconds:
            return


def _sim_episodes(daemon, session, args, stop: threading.Event, console: Console) -> list[EpisodeOutcome]:
    """Per episode: new scene (seed), the policy drives until success (+ a short tail) or the time
    limit, then parks; the outcome is recorded with the episode."""
    executor = daemon.executor
    seed0 = args.seed if args.seed is not None else session.status().get("seed", 0)
    limit = (args.seconds or SIM_EPISODE_S) + executor.ramp_in_s
    outcomes = []
    for k in range(args.episodes):
        if stop.is_set() or executor.ended:
            break
        seed = seed0 + k
        session.reset(seed, args.task)
        ok, error, _ = executor.submit("start")
        if not ok:
            raise RobotStackError(f"the runtime refused to start episode {k + 1}: {error}")
        started, success_at = time.monotonic(), None
        while not stop.is_set() and not executor.ended:
            elapsed = time.monotonic() - started
            if success_at is None and session.status().get("success"):
                success_at = elapsed
            if elapsed >= limit or (success_at is not None and elapsed >= success_at + SUCCESS_TAIL_S):
                break
            stop.wait(0.2)
        outcome = EpisodeOutcome(seed, success_at is not None, time.monotonic() - started, success_at)
        outcomes.append(outcome)
        console.print(
            f"episode {k + 1}/{args.episodes} seed {seed}: "
            + (f"success after {success_at:.1f} s" if outcome.success else "no success")
            + _freshness(executor.status())
        )
        if executor.ended:
            break
        executor.submit("stop", {"success": outcome.success})
        executor.wait_for(("parked", "stopped", "fault"), daemon.rig.deploy.safety.park_s + 5)
    return outcomes


def _freshness(status: dict) -> str:
    """How old the observations behind the plans were: planner latency and each camera's frame age."""
    parts = []
    latency = status.get("planner_latency_ms")
    if latency:
        parts.append(f"plan latency p50 {latency['p50']:.0f} ms")
    for name, age in (status.get("frame_age_ms") or {}).items():
        if age:
            parts.append(f"{name} frame age p50 {age['p50']:.0f} / max {age['max']:.0f} ms")
    return f" ({', '.join(parts)})" if parts else ""


def _summary(console: Console, report, outcomes: list[EpisodeOutcome], recorder) -> None:
    from robot_stack.app.evaluation.stats import wilson_interval

    stats = report.stats
    console.print(
        f"deploy done ({report.phase}): {stats.ticks} ticks at {stats.achieved_rate_hz:.1f} Hz, period error "
        f"p99 {stats.period_error.p99_ms:.2f} ms, {stats.overruns} overruns; chunks {report.chunks['accepted']} "
        f"accepted, rejected {report.chunks['rejected'] or 0}; interventions {report.interventions}"
    )
    safety = {k: v for k, v in report.safety.items() if v}
    if safety:
        console.print("safety: " + ", ".join(f"{k} {v}" for k, v in sorted(safety.items())))
    if recorder is not None:
        console.print(
            f"recorded {len(recorder.committed)} episode(s) into {recorder.path}: {recorder.committed}"
        )
    if outcomes:
        wins = sum(o.success for o in outcomes)
        low, high = wilson_interval(wins, len(outcomes))
        console.print(
            f"success rate {wins}/{len(outcomes)} = {wins / len(outcomes):.0%} "
            f"(95 % CI {low:.0%}–{high:.0%}), seeds {outcomes[0].seed}–{outcomes[-1].seed}"
        )
