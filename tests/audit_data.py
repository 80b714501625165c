"""Datasets for the audit tests: a synthetic one with planted defects, and clean sim recordings.

Synthetic episodes draw their frames from the joint positions at each frame's capture time (bars
whose place and tilt follow the joints, plus sensor noise), so image motion follows joint motion as
on a real rig, and a camera latency can be planted by stamping frames later than they were captured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import zarr

from robot_stack.store import Dataset
from robot_stack.store.synthetic import synthetic_rig

RIG = synthetic_rig(cameras=("cam_high", "cam_wrist"), height=96, width=128, fps=30)
HZ, FPS = 50.0, 30.0
SECONDS = 4.0  # a clean synthetic take


@dataclass
class Plan:
    """How to make one synthetic episode (defaults: a clean take)."""

    seconds: float = SECONDS
    seed: int = 0
    speed: float = 1.0  # tempo of the motion
    flip: bool = False  # a different motion altogether (for the outlier)
    pause: tuple[float, float] | None = None  # (start, length) s: the arms hold still
    drop: dict[str, range] = field(default_factory=dict)  # camera → frame numbers never delivered
    repeat: dict[str, range] = field(default_factory=dict)  # camera → frames that repeat the one before
    swap_ticks: int | None = None  # tick k is stamped before tick k−1
    latency_s: float = 0.0  # frames stamped this much after their capture
    clamp_joint: tuple[int, float] | None = (
        None  # (joint, limit): the follower stops there, the command goes on
    )
    gripper_travel: float | None = (
        None  # leader gripper swings this far around 0.5; the follower clips to 0..1
    )
    jitter_joint: tuple[int, float] | None = None  # (joint, amplitude): a loose follower joint shakes
    status: str = "complete"


def joints_at(t: np.ndarray, plan: Plan) -> np.ndarray:
    """(len(t), 7) follower positions: smooth joint motion, gripper 0..1."""
    rng = np.random.default_rng(100 + plan.seed)
    phase = np.linspace(0, 2 * np.pi, 7, endpoint=False) + rng.normal(0, 0.05, 7)
    tempo = plan.speed * (1 + rng.normal(0, 0.02))
    tt = np.asarray(t, float).copy()
    if plan.pause is not None:  # motion time stands still during the pause
        a, length = plan.pause
        tt = np.where(tt < a, tt, np.where(tt < a + length, a, tt - length))
    q = 0.6 * np.sin(tempo * (1.1 * tt[:, None] + 0.4 * np.sin(0.5 * tt[:, None])) + phase)
    q[:, 6] = 0.5 + 0.45 * np.sin(0.8 * tempo * tt + phase[6])
    return -q if plan.flip else q


NOISE = (
    np.random.default_rng(0).normal(0, 3, (5, 96, 128, 3)).round().astype(np.int16)
)  # sensor noise, cycled


def draw(q: np.ndarray, k: int) -> np.ndarray:
    """A 96×128 picture of the joint positions `q` (7,), with the k-th sensor noise field."""
    img = np.full((96, 128, 3), 60, np.int16)
    for j in range(6):
        x = int(64 + 50 * np.sin(q[j]))
        cv2.line(img, (x, 6 + 14 * j), (int(64 + 50 * np.sin(q[j] + 0.8)), 14 + 14 * j), (230, 200, 90), 3)
    cv2.circle(img, (int(20 + 90 * q[6]), 88), 6, (90, 200, 240), -1)
    img += NOISE[k % len(NOISE)]
    return np.clip(img, 0, 255).astype(np.uint8)


def write_episode(ds: Dataset, plan: Plan, task: str = "transfer_cube", start: float = 1000.0) -> int:
    rng = np.random.default_rng(plan.seed)
    n = int(plan.seconds * HZ)
    tick_t = start + np.arange(n) / HZ + rng.uniform(0, 0.002, n)
    if plan.swap_ticks is not None:
        k = plan.swap_ticks
        tick_t[k] = tick_t[k - 1] - 0.004
    obs = joints_at(tick_t - start, plan).astype(np.float32)
    act = joints_at(tick_t - start + 0.04, plan).astype(np.float32)  # the follower lags its command
    if plan.clamp_joint is not None:
        j, limit = plan.clamp_joint
        obs[:, j] = np.minimum(obs[:, j], limit)
    if plan.gripper_travel is not None:
        act[:, 6] = 0.5 + (act[:, 6] - 0.5) / 0.45 * plan.gripper_travel
        obs[:, 6] = np.clip(0.5 + (obs[:, 6] - 0.5) / 0.45 * plan.gripper_travel, 0.0, 1.0)
    if plan.jitter_joint is not None:
        j, amplitude = plan.jitter_joint
        obs[:, j] += rng.uniform(-amplitude, amplitude, n).astype(np.float32)
    # ticks reach the writer in their loop order, whatever their stamps say (a planted swap stays)
    events = [(start + i / HZ, 0, "tick", i) for i in range(n)]
    for c, name in enumerate(RIG.cameras):
        m = int(plan.seconds * FPS)
        captured = start + 0.003 * (c + 1) + np.arange(m) / FPS + rng.uniform(0, 0.002, m)
        for i, tc in enumerate(captured):
            if i not in plan.drop.get(name, ()):
                events.append((tc + plan.latency_s, 1, name, (i, tc)))
    writer = ds.begin_episode(
        task, seed=plan.seed, joint_names=[f"follower.{j}" for j in RIG.arms["follower"].motors]
    )
    last: dict[str, np.ndarray] = {}
    for t, _, what, i in sorted(events, key=lambda e: e[:2]):
        if what == "tick":
            writer.add_tick(tick_t[i], obs[i], act[i])
            continue
        number, captured_at = i
        if number in plan.repeat.get(what, ()) and what in last:
            img = last[what]  # the driver handed the same buffer again
        else:
            img = draw(joints_at(np.array([captured_at - start]), plan)[0], number)
        last[what] = img
        while not writer.add_frame(what, t, img):
            pass
    return writer.finish(status=plan.status)


def truncate_array(dataset: Path, index: int, array: str, rows: int) -> None:
    """Cut a stored array short, as a copy interrupted half-way or a bad edit by hand would."""
    arr = zarr.open_array(dataset / "episodes" / f"{index:06d}" / array, mode="r+")
    arr.resize((arr.shape[0] - rows, *arr.shape[1:]))


def defect_dataset(path: Path) -> dict[str, int]:
    """A dataset with one planted defect per episode, and clean takes around them. Returns what → index."""
    plans = {
        "clean_a": Plan(seed=1),
        "dropped": Plan(seed=2, drop={"cam_high": range(60, 75)}),
        "duplicated": Plan(seed=3, repeat={"cam_wrist": range(40, 46)}),
        "non_monotonic": Plan(seed=4, swap_ticks=150),
        "clean_b": Plan(seed=5),
        "idle": Plan(seed=6, seconds=5.5, pause=(1.5, 3.0)),
        "outlier": Plan(seed=7, seconds=10.0, flip=True),
        "truncated": Plan(seed=8),
        "clean_c": Plan(seed=9),
        "joint_stop": Plan(seed=10, clamp_joint=(1, 0.45)),
        "gripper_range": Plan(seed=11, gripper_travel=0.7),
        "loose_joint": Plan(seed=12, jitter_joint=(3, 0.35)),
        "aborted": Plan(seed=13, status="aborted"),
        "shard_cut": Plan(seed=14),
        "nan": Plan(seed=15),
        "misaligned": Plan(seed=16),
    }
    out = {}
    with Dataset.create(path, RIG) as ds:
        for what, plan in plans.items():
            out[what] = write_episode(ds, plan)
    truncate_array(path, out["truncated"], "joints/action", 25)
    episodes = path / "episodes"
    shard = episodes / f"{out['shard_cut']:06d}" / "cameras" / "cam_high" / "jpeg" / "c" / "0"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])  # a copy cut short
    obs = zarr.open_array(episodes / f"{out['nan']:06d}" / "joints" / "observation", mode="r+")
    obs[50, 0] = np.nan
    tick = zarr.open_array(episodes / f"{out['misaligned']:06d}" / "cameras" / "cam_high" / "tick", mode="r+")
    tick[100:120] = np.minimum(tick[100:120] + 2, tick[-1])
    return out


# ---- clean recordings with real sim renders


SIM_CAMERAS = {"cam_high": "top", "cam_left_wrist": "left_wrist"}


def sim_rig(repo: Path, width: int = 128, height: int = 96, fps: int = 30):
    """The default sim rig, with two small cameras."""
    from robot_stack.rig import load_rig
    from robot_stack.rig.schema import CameraSpec

    rig = load_rig(repo / "hardware.yaml")
    cameras = {
        name: CameraSpec(driver="sim", device=view, width=width, height=height, fps=fps)
        for name, view in SIM_CAMERAS.items()
    }
    return rig.model_copy(update={"cameras": cameras})


@dataclass
class SimTake:
    seed: int
    tick_t: np.ndarray
    observation: np.ndarray
    action: np.ndarray
    frame_t: dict[str, np.ndarray]  # capture times
    frames: dict[str, list[np.ndarray]]
    success: bool


def capture_sim(rig, seed: int, seconds: float, task: str = "transfer_cube", start: float = 500.0) -> SimTake:
    """A scripted take on the MuJoCo scene: the operator's targets drive the followers at the control
    rate, cameras render at their rate; everything stamped with its capture time."""
    from drivers.sim.arms import ARM_SIDES
    from drivers.sim.render import SceneRenderer
    from drivers.sim.scene import SimScene
    from drivers.sim.scripted_operator import ScriptedOperator

    scene = SimScene(task, seed)
    operator = ScriptedOperator(task, seed, model=scene.model)
    seconds = min(seconds, operator.duration)
    hz = rig.control_rate_hz
    events = [(k / hz, 0, "tick") for k in range(int(seconds * hz))]
    for c, (name, cam) in enumerate(rig.cameras.items()):
        events += [(0.004 * (c + 1) + i / cam.fps, 1, name) for i in range(int(seconds * cam.fps))]
    ticks, obs, act = [], [], []
    frame_t: dict[str, list[float]] = {name: [] for name in rig.cameras}
    frames: dict[str, list[np.ndarray]] = {name: [] for name in rig.cameras}
    with SceneRenderer(scene) as renderer:
        for t, _, what in sorted(events):
            scene.step_to(t)
            if what == "tick":
                targets = [operator.target(side, t) for side in ARM_SIDES]
                ticks.append(start + t)
                obs.append(np.concatenate([scene.follower_joint_positions(s) for s in ARM_SIDES]))
                act.append(np.concatenate(targets))
                for side, target in zip(ARM_SIDES, targets, strict=True):
                    scene.set_follower_targets(side, target)
            else:
                cam = rig.cameras[what]
                frame_t[what].append(start + t)
                frames[what].append(renderer.render(str(cam.device), cam.width, cam.height))
    return SimTake(
        seed,
        np.array(ticks),
        np.array(obs, np.float32),
        np.array(act, np.float32),
        {k: np.array(v) for k, v in frame_t.items()},
        frames,
        scene.success(),
    )


def write_take(ds: Dataset, take: SimTake, latency_s: dict[str, float] | None = None) -> int:
    """Write a captured take through the EpisodeWriter; frames stamped `latency_s` after capture."""
    latency_s = latency_s or {}
    events = [(t, 0, "tick", i) for i, t in enumerate(take.tick_t)]
    for name, times in take.frame_t.items():
        events += [(t + latency_s.get(name, 0.0), 1, name, i) for i, t in enumerate(times)]
    writer = ds.begin_episode("transfer_cube", seed=take.seed)
    for t, _, what, i in sorted(events, key=lambda e: e[:2]):
        if what == "tick":
            writer.add_tick(t, take.observation[i], take.action[i])
        else:
            while not writer.add_frame(what, t, take.frames[what][i]):
                pass
    return writer.finish(success=take.success)
