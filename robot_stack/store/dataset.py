"""Dataset: one zarr store of episodes — open to read, create, or resume to append.

    ds = Dataset.create("demos.zarr", "hardware.yaml")       # refuses an existing dataset
    ds = Dataset.resume("demos.zarr", "hardware.yaml")       # refuses another rig, says what differs
    ds = Dataset.open("demos.zarr")                          # read; reports (and cleans) crash leftovers

Writing needs the dataset's lock (one recording process at a time); reading never takes it, except
briefly to clean leftovers when nobody is writing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from importlib import metadata
from pathlib import Path

import zarr

from robot_stack.errors import RobotStackError
from robot_stack.rig import RigSpec
from robot_stack.store.edit import check_tags, copy_into_staging, update_group_attrs
from robot_stack.store.episode import Episode
from robot_stack.store.files import DirLock, fsync_dir, fsync_tree, remove_tree
from robot_stack.store.jpeg import JpegCodec
from robot_stack.store.layout import (
    EPISODES,
    FORMAT,
    FORMAT_VERSION,
    PARTIAL_PREFIX,
    STAGING,
    TRASH_PREFIX,
    episode_index,
    episode_name,
)
from robot_stack.store.leftovers import Leftover, report_and_clean
from robot_stack.store.rigdiff import rig_differences, rig_record
from robot_stack.store.sink import CameraLayout
from robot_stack.store.sink_process import SinkProcess
from robot_stack.store.writer import EpisodeWriter

log = logging.getLogger("robot_stack.store")

DEFAULT_QUEUE_BYTES = 256 * 1024 * 1024  # ~2 s of four 480×640 cameras at 30 fps, raw


def software_version() -> str:
    try:
        return metadata.version("robot-stack")
    except metadata.PackageNotFoundError:
        return "unknown"


class Dataset:
    def __init__(
        self,
        path: Path,
        group: zarr.Group,
        lock: DirLock | None,
        leftovers: list[Leftover],
        calibration: dict | None = None,
    ):
        self.path = path
        self._group = group
        self._lock = lock
        self.leftovers = leftovers  # what a crash left behind, found when this dataset was opened
        self._calibration = calibration  # resume only: set when it differs from the dataset's
        self._writers: list[EpisodeWriter] = []
        self._sinks = SinkProcess()  # the zarr writes of recorded episodes; started by the first one
        self._commit_lock = threading.Lock()  # commits come from writer threads

    # ---- opening

    @classmethod
    def open(cls, path: str | Path) -> Dataset:
        """Open for reading. Leftovers of a crash are reported in `.leftovers` and deleted, unless a
        recording process holds the dataset (then they are its episode in progress and stay)."""
        path = Path(path)
        group = _open_root(path, "r")
        lock = DirLock(path)
        try:
            cleaned = os.access(path / STAGING, os.W_OK) and lock.acquire()
        except OSError:
            cleaned = False
        try:
            leftovers = report_and_clean(path / STAGING, clean=cleaned)
        finally:
            lock.release()
        return cls(path, group, None, leftovers)

    @classmethod
    def create(
        cls, path: str | Path, rig: str | Path | RigSpec, *, calibration: dict | None = None
    ) -> Dataset:
        """A new, empty dataset recorded with `rig` (a rig file path or a RigSpec)."""
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            what = "a dataset" if (path / "zarr.json").exists() else "files"
            raise RobotStackError(
                f"{path} already holds {what}; refusing to write over it",
                hint="pass --resume to append episodes to it, or choose a new path",
            )
        rig_text, rig_parsed = rig_record(rig)
        path.parent.mkdir(parents=True, exist_ok=True)
        # built beside its final name and renamed into place: a crash here leaves no half dataset
        building = path.parent / f".{path.name}.creating-{uuid.uuid4().hex[:8]}"
        root = zarr.open_group(building, mode="w-", attributes={
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "software_version": software_version(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "rig_yaml": rig_text,
            "rig": rig_parsed,
            "calibration": calibration or {},
            "next_episode": 0,
        })  # fmt: skip
        root.create_group(EPISODES)
        root.create_group(
            STAGING, attributes={"purpose": "episodes being written and removed ones; never data"}
        )
        fsync_tree(building)
        if path.exists():
            path.rmdir()  # the empty directory checked above
        os.rename(building, path)
        fsync_dir(path.parent)
        return cls._for_writing(path, rig_parsed, calibration)

    @classmethod
    def resume(
        cls, path: str | Path, rig: str | Path | RigSpec, *, calibration: dict | None = None
    ) -> Dataset:
        """An existing dataset, to append episodes with the next indices. The rig must match."""
        path = Path(path)
        if not path.exists():
            raise RobotStackError(
                f"there is no dataset at {path} to resume", hint="drop --resume to create it"
            )
        return cls._for_writing(path, rig_record(rig)[1], calibration)

    @classmethod
    def edit(cls, path: str | Path) -> Dataset:
        """An existing dataset, to tag, remove or import episodes (the dataset tools). Takes the lock like
        `resume`, but checks no rig: episodes recorded into it use the rig it was created with."""
        path = Path(path)
        if not path.exists():
            raise RobotStackError(f"there is no dataset at {path}", hint="check the path (a .zarr folder)")
        return cls._for_writing(path, None, None)

    @classmethod
    def _for_writing(cls, path: Path, rig_parsed: dict | None, calibration: dict | None) -> Dataset:
        group = _open_root(path, "r+")
        differences = [] if rig_parsed is None else rig_differences(group.attrs["rig"], rig_parsed)
        if differences:
            shown = "\n  ".join(differences[:12]) + (
                f"\n  ... and {len(differences) - 12} more" if len(differences) > 12 else ""
            )
            raise RobotStackError(
                f"{path} was recorded with another rig; refusing to append:\n  {shown}",
                hint="use the rig file the dataset was recorded with, or record into a new dataset",
            )
        lock = DirLock(path)
        if not lock.acquire():
            raise RobotStackError(
                f"{path} is being written by another process", hint="stop the other recording first"
            )
        leftovers = report_and_clean(path / STAGING, clean=True)
        stored_calibration = group.attrs.get("calibration") or {}
        differs = calibration is not None and calibration != stored_calibration
        return cls(path, group, lock, leftovers, calibration if differs else None)

    def close(self) -> None:
        """Wait for episodes still being saved, drop any never finished, then let go of the dataset."""
        for writer in self._writers:
            if writer.stats().state == "recording":
                log.warning("%s: an episode was never finished; discarding it", self.path)
                writer.discard()
            try:
                writer.wait()
            except RobotStackError:
                pass  # already reported to whoever holds that writer
        self._writers.clear()
        self._sinks.close()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start_writer(self) -> None:
        """Start the episode writer process now. Its start (an interpreter importing zarr: about a second
        of CPU) would otherwise fall into the first episode's first second, beside the cameras."""
        self._sinks.start()

    @property
    def writer_pid(self) -> int | None:
        """The pid of the process writing this dataset's episodes (None before the first one)."""
        return self._sinks.pid

    # ---- reading

    @property
    def attrs(self) -> dict:
        return self._group.attrs.asdict()

    @property
    def rig(self) -> RigSpec:
        return RigSpec.model_validate(self._group.attrs["rig"])

    def indices(self) -> list[int]:
        folder = self.path / EPISODES
        return sorted(i for i in (episode_index(p.name) for p in folder.iterdir()) if i is not None)

    def episodes(self) -> dict[int, dict]:
        """Every committed episode's index → its attrs, in index order."""
        return {k: self._episode_group(k).attrs.asdict() for k in self.indices()}

    def episode(self, index: int) -> Episode:
        return Episode(index, self._episode_group(index))

    def _episode_group(self, index: int) -> zarr.Group:
        try:
            return zarr.open_group(self.path / EPISODES / episode_name(index), mode="r")
        except FileNotFoundError:
            raise RobotStackError(
                f"{self.path} has no episode {index}", hint=f"episodes present: {_ranges(self.indices())}"
            ) from None

    @property
    def tags(self) -> dict[str, list[int]]:
        """tag → indices of the episodes carrying it."""
        out: dict[str, list[int]] = {}
        for k, attrs in self.episodes().items():
            for tag in attrs.get("tags", []):
                out.setdefault(tag, []).append(k)
        return dict(sorted(out.items()))

    # ---- writing

    def begin_episode(
        self,
        task: str,
        *,
        operator: str = "",
        tags=(),
        seed: int | None = None,
        extra: dict | None = None,
        joint_names: list[str] | None = None,
        camera_latency_s: dict[str, float] | None = None,
        jpeg_quality: int | None = None,
        max_queue_bytes: int = DEFAULT_QUEUE_BYTES,
        encode_threads: int = 2,
    ) -> EpisodeWriter:
        """Start recording an episode; returns at once (the writer thread creates the files)."""
        self._require_writable("record an episode")
        rig = self.rig
        latency = camera_latency_s or {}
        unknown = set(latency) - set(rig.cameras)
        if unknown:
            raise RobotStackError(
                f"camera_latency_s names camera(s) not in the rig: {', '.join(sorted(unknown))}",
                hint=f"cameras in the rig: {', '.join(rig.cameras) or '(none)'}",
            )
        cameras = {
            name: CameraLayout(name, cam.height, cam.width, float(cam.fps), float(latency.get(name, 0.0)))
            for name, cam in rig.cameras.items()
        }
        wall, mono = time.time(), time.monotonic()
        attrs = {
            "task": task,
            "operator": operator,
            "start_time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(wall)),
            # one reading of both clocks, so host-monotonic timestamps can be placed on the calendar
            "clock": {"monotonic_s": mono, "unix_s": wall},
            "rates": {"control_hz": rig.control_rate_hz, "cameras": {n: c.fps for n, c in cameras.items()}},
            "tags": sorted(set(tags)),
            "seed": seed,
            "extra": dict(extra or {}),
            "software_version": software_version(),
        }
        if self._calibration is not None:
            attrs["calibration"] = self._calibration  # differs from the dataset's; this one applies
        writer = EpisodeWriter(
            dataset_path=self.path,
            sinks=self._sinks,
            partial=self.path / STAGING / f"{PARTIAL_PREFIX}{uuid.uuid4().hex}",
            commit=self._commit,
            attrs=attrs,
            cameras=cameras,
            joint_names=joint_names,
            codec=JpegCodec(quality=jpeg_quality),  # None: the flat tables
            max_queue_bytes=max_queue_bytes,
            encode_threads=encode_threads,
        )
        self._writers = [w for w in self._writers if not w.done] + [writer]
        return writer

    def remove_episode(self, index: int) -> None:
        """Delete one episode: renamed out of `episodes/` in one step, then deleted. Others are untouched."""
        self._require_writable("remove an episode")
        source = self.path / EPISODES / episode_name(index)
        if not source.is_dir():
            raise RobotStackError(
                f"{self.path} has no episode {index}", hint=f"episodes present: {_ranges(self.indices())}"
            )
        trash = self.path / STAGING / f"{TRASH_PREFIX}{episode_name(index)}-{uuid.uuid4().hex[:8]}"
        with self._commit_lock:
            self._bump_next_episode(index + 1)  # a removed index is never given to a new episode
            os.rename(source, trash)
            fsync_dir(self.path / EPISODES)
        remove_tree(trash)

    def set_tags(self, index: int, tags) -> list[str]:
        """Replace one episode's tags; its attrs file is rewritten beside itself and renamed into place
        (atomic), nothing else of the episode is touched. Returns the tags as stored."""
        self._require_writable("tag an episode")
        folder = self.path / EPISODES / episode_name(index)
        if not folder.is_dir():
            raise RobotStackError(
                f"{self.path} has no episode {index}", hint=f"episodes present: {_ranges(self.indices())}"
            )
        stored = check_tags(tags)
        with self._commit_lock:
            update_group_attrs(folder, {"tags": stored})
        return stored

    def import_episode(self, source: Dataset, index: int, attrs: dict | None = None) -> int:
        """Copy episode `index` of another dataset in (merge): its files byte for byte, with `attrs`
        merged into its attributes, committed under the next index by one rename like a recording."""
        self._require_writable("add an episode")
        if source.path.resolve() == self.path.resolve():
            raise RobotStackError(f"cannot copy an episode of {self.path} into itself")
        folder = source.path / EPISODES / episode_name(index)
        if not folder.is_dir():
            raise RobotStackError(
                f"{source.path} has no episode {index}",
                hint=f"episodes present: {_ranges(source.indices())}",
            )
        partial = copy_into_staging(folder, self.path / STAGING, attrs or {})
        try:
            return self._commit(partial)
        except BaseException:
            remove_tree(partial)
            raise

    def _commit(self, partial: Path) -> int:
        """Give a sealed partial episode the next index and make it visible, in one rename."""
        with self._commit_lock:
            existing = self.indices()
            index = max(int(self._group.attrs.get("next_episode", 0)), existing[-1] + 1 if existing else 0)
            # recorded before the rename: if this write fails, nothing became visible
            self._bump_next_episode(index + 1)
            os.rename(partial, self.path / EPISODES / episode_name(index))
            fsync_dir(self.path / EPISODES)
            fsync_dir(self.path / STAGING)
        return index

    def _bump_next_episode(self, value: int) -> None:
        if value > int(self._group.attrs.get("next_episode", 0)):
            self._group.attrs.update({"next_episode": value})

    def _require_writable(self, what: str) -> None:
        if self._lock is None or not self._lock.held:
            raise RobotStackError(
                f"{self.path} was opened for reading; cannot {what}",
                hint="open it with Dataset.resume(path, rig) (record --resume)",
            )


def _open_root(path: Path, mode: str) -> zarr.Group:
    if not (path / "zarr.json").is_file():
        raise RobotStackError(
            f"{path} is not an episode dataset (no zarr.json)",
            hint="check the path; a new dataset is made by `robot-stack record` without --resume",
        )
    group = zarr.open_group(path, mode=mode)
    if group.attrs.get("format") != FORMAT:
        raise RobotStackError(
            f"{path} is a zarr store but not a robot_stack episode dataset", hint="check the path"
        )
    version = group.attrs.get("format_version")
    if version != FORMAT_VERSION:
        raise RobotStackError(
            f"{path} has dataset format {version}; this robot_stack reads format {FORMAT_VERSION}",
            hint="use the robot_stack version that wrote it (attrs: software_version)",
        )
    return group


def _ranges(indices: list[int]) -> str:
    if not indices:
        return "none"
    parts, start, prev = [], indices[0], indices[0]
    for k in indices[1:] + [None]:
        if k is not None and k == prev + 1:
            prev = k
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if k is not None:
            start = prev = k
    return ", ".join(parts)
