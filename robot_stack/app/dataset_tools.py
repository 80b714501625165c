"""The dataset tools behind `robot-stack dataset`: summaries from stored attrs (cheap: no array is read),
tagging, and merging datasets recorded with the same rig.

Every change goes through the store's crash-safe operations (`Dataset.set_tags`, `remove_episode`,
`import_episode`): a crash at any point leaves each episode either as it was or as intended.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from robot_stack.errors import RobotStackError
from robot_stack.rig import RigSpec
from robot_stack.store import Dataset
from robot_stack.store.files import tree_bytes
from robot_stack.store.rigdiff import rig_differences


def episode_length_s(attrs: dict) -> float | None:
    joints = (attrs.get("stats") or {}).get("joints") or {}
    return joints.get("duration_s")


def stored_notes(attrs: dict) -> list[str]:
    """Problems the recorder already wrote into the episode's stats — a quick look, not an audit."""
    notes = []
    if attrs.get("status") != "complete":
        notes.append(f"status {attrs.get('status')}")
    stats = attrs.get("stats") or {}
    joints = stats.get("joints") or {}
    if joints.get("late_ticks"):
        notes.append(f"{joints['late_ticks']} late ticks")
    if joints.get("out_of_order"):
        notes.append(f"{joints['out_of_order']} ticks out of order")
    if joints.get("rejected"):
        notes.append(f"{joints['rejected']} ticks refused")
    for name, cam in sorted((stats.get("cameras") or {}).items()):
        if cam.get("missing_frames"):
            notes.append(f"{name}: {cam['missing_frames']} frames lost")
        if cam.get("rejected"):
            notes.append(f"{name}: {cam['rejected']} frames refused")
        if cam.get("frames", 1) == 0:
            notes.append(f"{name}: no frames")
    return notes


@dataclass(frozen=True)
class DatasetSummary:
    path: Path
    rig_name: str
    format_version: int
    software_version: str
    created: str
    episodes: int
    next_episode: int
    duration_s: float
    bytes_on_disk: int
    cameras: dict[str, str]  # name → "640×480 @ 30 fps (opencv)"
    control_hz: float
    tasks: dict[str, int]
    tags: dict[str, list[int]]
    with_notes: int
    leftovers: list[str]


def summarize(ds: Dataset) -> DatasetSummary:
    episodes = ds.episodes()
    attrs = ds.attrs
    rig = ds.rig
    tasks: dict[str, int] = {}
    for a in episodes.values():
        tasks[str(a.get("task", ""))] = tasks.get(str(a.get("task", "")), 0) + 1
    return DatasetSummary(
        path=ds.path,
        rig_name=rig.name,
        format_version=int(attrs.get("format_version", 0)),
        software_version=str(attrs.get("software_version", "unknown")),
        created=str(attrs.get("created", "")),
        episodes=len(episodes),
        next_episode=int(attrs.get("next_episode", 0)),
        duration_s=float(sum(episode_length_s(a) or 0.0 for a in episodes.values())),
        bytes_on_disk=tree_bytes(ds.path),
        cameras={name: f"{c.width}×{c.height} @ {c.fps} fps ({c.driver})" for name, c in rig.cameras.items()},
        control_hz=rig.control_rate_hz,
        tasks=dict(sorted(tasks.items())),
        tags=ds.tags,
        with_notes=sum(1 for a in episodes.values() if stored_notes(a)),
        leftovers=[str(x) for x in ds.leftovers],
    )


def change_tags(ds: Dataset, indices: list[int], add=(), remove=()) -> dict[int, list[str]]:
    """Add and remove tags on each episode (one atomic attrs rewrite each); returns the new tags."""
    present = set(ds.indices())
    missing = [k for k in indices if k not in present]
    if missing:
        raise RobotStackError(
            f"{ds.path} has no episode {', '.join(map(str, missing))}",
            hint="list the episodes with: robot-stack dataset list " + str(ds.path),
        )
    out = {}
    for k in indices:
        tags = set(ds.episode(k).tags) | set(add)
        out[k] = ds.set_tags(k, tags - set(remove))
    return out


def _normal_rig(parsed: dict) -> dict:
    """A stored rig as the current schema reads it, so fields added since compare equal."""
    return RigSpec.model_validate(parsed).model_dump(mode="json")


def rig_mismatch(a: Dataset, b: Dataset) -> list[str]:
    return rig_differences(_normal_rig(a.attrs["rig"]), _normal_rig(b.attrs["rig"]))


def check_same_rig(dest: Dataset, sources: list[Dataset]) -> None:
    for src in sources:
        differences = rig_mismatch(dest, src)
        if differences:
            shown = "\n  ".join(differences[:12])
            more = f"\n  ... and {len(differences) - 12} more" if len(differences) > 12 else ""
            raise RobotStackError(
                f"cannot merge {src.path} into {dest.path}: they were recorded with different rigs "
                f"({src.rig.name} / {dest.rig.name}):\n  {shown}{more}",
                hint="merge only datasets recorded with the same rig file; nothing was changed",
            )


def create_like(path: Path, source: Dataset) -> Dataset:
    """A new, empty dataset with the rig file text and calibration of `source`."""
    with tempfile.TemporaryDirectory() as folder:
        rig_file = Path(folder) / "rig.yaml"
        rig_file.write_text(source.attrs["rig_yaml"])
        return Dataset.create(path, rig_file, calibration=source.attrs.get("calibration") or None)


def merge_into(
    dest: Dataset, sources: list[Dataset], progress: Callable[[], None] | None = None
) -> list[tuple[str, int, int]]:
    """Copy every episode of `sources` into `dest` (opened for editing), in order. Each copy keeps its
    files byte for byte, gains `origin` attrs (source dataset and index), and keeps its own
    calibration if it differs from dest's. Returns (source path, source index, new index) per copy."""
    check_same_rig(dest, sources)
    dest_calibration = dest.attrs.get("calibration") or {}
    done = []
    for src in sources:
        src_calibration = src.attrs.get("calibration") or {}
        for k, attrs in src.episodes().items():
            extra: dict = {"origin": {"dataset": str(src.path.resolve()), "index": k}}
            if "calibration" not in attrs and src_calibration != dest_calibration:
                extra["calibration"] = src_calibration  # the one these takes were recorded with
            done.append((str(src.path), k, dest.import_episode(src, k, extra)))
            if progress is not None:
                progress()
    return done
