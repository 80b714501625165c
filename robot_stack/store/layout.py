"""Names and sizes of the on-disk layout; docs/episode_store.md draws the whole tree.

dataset.zarr/                  root group: format, rig, calibration, software version, next_episode
  episodes/000007/             one committed episode (a zarr group)
  .staging/                    a zarr group holding episodes being written (`partial-<uuid>`) and
                               removed ones on their way out (`trash-<uuid>`); never data
"""

from __future__ import annotations

FORMAT = "robot_stack.episodes"
FORMAT_VERSION = 1

EPISODES = "episodes"
STAGING = ".staging"
PARTIAL_PREFIX = "partial-"
TRASH_PREFIX = "trash-"

# Per-tick arrays are written once, at the end of an episode: one chunk is ~80 s at 50 Hz.
TICK_CHUNK = 4096
# Encoded frames are one uint8 byte stream per camera. A 4 MiB shard is one file (~100 frames);
# 64 KiB inner chunks mean reading one ~40 KB frame touches at most two of them.
FRAME_INNER_CHUNK = 64 * 1024
FRAME_SHARD = 4 * 1024 * 1024

# Names the per-tick arrays already use; extras passed to add_tick may not take them.
TICK_ARRAYS = ("t", "observation", "action")


def episode_name(index: int) -> str:
    return f"{index:06d}"


def episode_index(name: str) -> int | None:
    """The index an `episodes/` entry stands for, or None for anything that is not an episode."""
    return int(name) if len(name) == 6 and name.isdigit() else None
