"""File-system guarantees the store leans on: durable writes, one atomic rename, one recorder at a time."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
from pathlib import Path

from robot_stack.errors import RobotStackError

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def fsync_dir(path: Path) -> None:
    """Make the entries of `path` (new names, renames) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and directory under `root` to the disk, files before the directories naming them."""
    for dirpath, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                pass
    return total


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def free_bytes(path: Path) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def is_disk_full(exc: BaseException) -> bool:
    """True if `exc`, or anything it was raised from or grouped with, is 'no space left' / 'quota'."""
    seen = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _NO_SPACE:
            return True
        stack += [e.__cause__, e.__context__, *getattr(e, "exceptions", ())]
    return False


def write_failed_error(dataset: Path, exc: BaseException) -> RobotStackError:
    """The message a person sees when an episode could not be written."""
    if is_disk_full(exc):
        free = free_bytes(dataset)
        where = (
            f"{human_bytes(free)} free when the write failed" if free is not None else "free space unknown"
        )
        return RobotStackError(
            f"disk full while writing an episode to {dataset} ({where}); the episode in progress was dropped, "
            "earlier episodes are intact",
            hint="free some space or record to another disk, then resume with --resume",
        )
    return RobotStackError(
        f"writing an episode to {dataset} failed: {exc}; the episode in progress was dropped, earlier episodes are intact",
        hint="check the disk and the dataset's permissions, then resume with --resume",
    )


class DirLock:
    """An exclusive advisory lock on a directory (flock), held while a process writes the dataset.

    The kernel drops it when the process dies, kill -9 included, so a crash never leaves it stuck.
    """

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self, wait_s: float = 0.0) -> bool:
        """Take the lock, waiting up to `wait_s`; False if another process still holds it."""
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
                os.close(fd)
                return False
            self._fd = fd
            return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
