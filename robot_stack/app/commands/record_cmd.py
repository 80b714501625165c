"""`robot-stack record`: record demonstrations into an episode dataset, with a live panel."""

from __future__ import annotations

import argparse

from rich.console import Console

EXAMPLES = """\
examples:
  robot-stack record --dataset demos.zarr --task "put the cup on the plate" --episodes 50
  robot-stack record --dataset demos.zarr --task "..." --resume           append more tomorrow
  robot-stack record --dataset sim.zarr --task transfer_cube --episodes 10   sim rig: the scripted
                                                  operator records 10 episodes unattended
  robot-stack record --dataset sim.zarr --task insertion --operator none    sim rig: you drive
  robot-stack record --dataset sim.zarr --task transfer_cube --episodes 66 --noise 0.015
                                                  followers pushed off the path, actions clean

keys (while recording; the terminal needs focus):
  n or →    next: save this take now / in the reset phase, start recording now
  r         re-record: drop this take and do the same scene again
            (in the reset phase: remove the episode just saved and record it again)
  d         discard: drop this take (or, in the reset phase, the episode just saved); new scene
  q or Esc  stop: a take in progress is dropped (press n first to keep it); saves finish, then exit
  Ctrl-C    as q

Between takes a reset phase (--reset-seconds) keeps teleop running and writes nothing: reset the
scene (the simulated rig re-randomises it, with a new seed stored in the episode). Each saved
episode gets a one-line summary with quality flags: rate below target, loop overruns, frames dropped
or refused, a stalled camera, a long idle stretch.

Needs calibrated arms (`robot-stack calibrate`; simulated rig: `robot-stack calibrate --auto`). On
the simulated rig a `robot-stack sim` already serving the rig file's ports is used; otherwise one is
started as a child process for the recording (it stops with the recorder). A dataset that exists
is never written over: --resume appends to it, after checking that it was recorded with this rig.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "record",
        help="record demonstrations (teleop + cameras) into an episode dataset",
        description="Record demonstrations: the teleop loop, the rig's cameras and a crash-safe "
        "episode writer, episode after episode with a reset phase between them.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", required=True, metavar="PATH", help="the dataset (a .zarr folder)")
    p.add_argument(
        "--task", metavar="TEXT", help="what is demonstrated (sim rig: the sim task, default the rig's)"
    )
    p.add_argument("--episodes", type=int, default=1, metavar="N", help="episodes to save (default 1)")
    p.add_argument(
        "--episode-seconds",
        type=float,
        metavar="S",
        help="length of each take (default: the scripted operator's script + 1 s; 60 s for a person)",
    )
    p.add_argument(
        "--reset-seconds",
        type=float,
        metavar="R",
        help="reset phase between takes (default 10 s; 1 s with the scripted operator)",
    )
    p.add_argument("--resume", action="store_true", help="append to an existing dataset (same rig)")
    p.add_argument(
        "--operator",
        choices=["scripted", "none"],
        help="sim rig: who moves the leaders — the scripted operator (default) or nobody (you, by hand)",
    )
    p.add_argument("--seed", type=int, help="sim rig: seed of the first scene (default: after the dataset's)")
    p.add_argument("--tag", action="append", default=[], metavar="TAG", help="tag every episode (repeatable)")
    p.add_argument("--ramp-in", type=float, metavar="S", help="teleop ramp-in time (default: rig file)")
    p.add_argument(
        "--noise",
        type=float,
        metavar="RAD",
        help="inject smooth random offsets of this standard deviation on the followers' goals (every "
        "joint but the gripper); the episode stores the leaders' pose as the action (DART-style data "
        "for a policy that must recover from its own errors; docs/recording.md)",
    )
    p.add_argument(
        "--noise-time",
        type=float,
        default=0.5,
        metavar="S",
        help="correlation time of the injected offsets (default 0.5 s)",
    )
    p.add_argument(
        "--sim-in-process",
        action="store_true",
        help="sim rig, no `robot-stack sim` running: simulate inside this process (default: a child process)",
    )
    p.add_argument(
        "--control",
        metavar="ENDPOINT",
        help="sim rig: the control socket of a running `robot-stack sim` started with --control",
    )
    p.add_argument(
        "--camera-endpoint",
        metavar="ENDPOINT",
        help="sim rig: the camera socket of a running `robot-stack sim` started with --camera-endpoint",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from robot_stack.app.record.keys import KeyReader
    from robot_stack.app.record.workflow import Recorder, RecordRequest

    console = Console(highlight=False)
    request = RecordRequest(
        rig_path=Path(args.rig),
        dataset=Path(args.dataset),
        task=args.task,
        episodes=args.episodes,
        episode_s=args.episode_seconds,
        reset_s=args.reset_seconds,
        resume=args.resume,
        operator=args.operator,
        seed=args.seed,
        tags=tuple(args.tag),
        ramp_in_s=args.ramp_in,
        camera_endpoint=args.camera_endpoint,
        control_endpoint=args.control,
        sim_in_process=args.sim_in_process,
        noise_rad=args.noise,
        noise_time_s=args.noise_time,
    )
    with KeyReader() as keys, Recorder(request, console, keys=keys) as recorder:
        result = recorder.run()
    saved = result.saved
    if not saved:
        return 0
    successes = [s for s in saved if s.figures.success]
    flagged = [s for s in saved if s.flags]
    line = f"recorded {len(saved)} episode(s) into {result.dataset}"
    if saved and saved[0].figures.success is not None:
        line += f"; task succeeded in {len(successes)} of {len(saved)}"
    line += f"; {len(flagged)} with quality flags" if flagged else "; no quality flags"
    console.print(line)
    return 0
