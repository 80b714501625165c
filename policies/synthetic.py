"""Synthetic episodes with a learnable image → action relation, for tests and smoke runs without a rig.

Each episode has a target drawn at random; every camera shows a bright square at the target's image
position, and the joints move smoothly from a random start toward the target. The action at a tick is
the next tick's position (a leader slightly ahead of its follower). Cameras run at their own rate, so
the tick → frame alignment is not the identity.
"""

from __future__ import annotations

import numpy as np

from policies.episodes import EpisodeSet, MemoryEpisode


def synthetic_episode(
    name: str,
    rng: np.random.Generator,
    ticks: int = 40,
    arms: dict[str, list[str]] | None = None,
    cameras: tuple[str, ...] = ("cam_high", "cam_wrist"),
    frame_size: tuple[int, int] = (60, 80),
    control_rate_hz: float = 50.0,
    camera_fps: float = 30.0,
) -> MemoryEpisode:
    arms = arms or {"left_follower": ["waist", "gripper"], "right_follower": ["waist", "gripper"]}
    joints = sum(len(j) for j in arms.values())
    target = rng.uniform(-1, 1, size=joints).astype(np.float32)
    start = rng.uniform(-1, 1, size=joints).astype(np.float32)
    progress = 1 - np.exp(-np.arange(ticks + 1) / (ticks / 4))
    path = start + (target - start) * progress[:, None]
    observation, action = path[:-1].astype(np.float32), path[1:].astype(np.float32)

    frames_count = int(np.ceil(ticks * camera_fps / control_rate_hz))
    frame_of_tick = np.minimum(
        (np.arange(ticks) * camera_fps / control_rate_hz).astype(np.int64), frames_count - 1
    )
    h, w = frame_size
    frames, index = {}, {}
    for c, camera in enumerate(cameras):
        images = np.full((frames_count, h, w, 3), 30 + 20 * c, dtype=np.uint8)
        cy = int((target[0] + 1) / 2 * (h - 12)) + 6
        cx = int((target[1 % joints] + 1) / 2 * (w - 12)) + 6
        images[:, cy - 6 : cy + 6, cx - 6 : cx + 6] = (250, 220, 40)
        images += rng.integers(0, 8, size=images.shape, dtype=np.uint8)  # sensor noise
        frames[camera], index[camera] = images, frame_of_tick
    return MemoryEpisode(name, observation, action, frames, index)


def synthetic_set(episodes: int = 4, seed: int = 0, **kwargs) -> EpisodeSet:
    rng = np.random.default_rng(seed)
    arms = kwargs.pop("arms", None) or {
        "left_follower": ["waist", "gripper"],
        "right_follower": ["waist", "gripper"],
    }
    items = [synthetic_episode(f"{i:06d}", rng, arms=arms, **kwargs) for i in range(episodes)]
    return EpisodeSet(items, arms=arms, control_rate_hz=kwargs.get("control_rate_hz", 50.0))
