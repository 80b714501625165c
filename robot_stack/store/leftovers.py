"""What a crash leaves behind in `.staging/`, told to the caller and then cleaned away.

Nothing here is ever visible as an episode: a partial episode only becomes one by the final rename.
So cleaning is just deleting, and it is only done while holding the dataset's lock — a directory in
`.staging/` while another process holds the lock is that process's episode in progress. A partial
folder is also locked by the writer process filling it (sink_server.py): cleaning waits for that
lock, so a writer outliving its killed recorder by a moment never writes into a deleted folder.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from robot_stack.store.files import DirLock, human_bytes, remove_tree, tree_bytes
from robot_stack.store.layout import PARTIAL_PREFIX, TRASH_PREFIX

log = logging.getLogger("robot_stack.store")

# how long a leftover may stay locked by a writer process whose recorder has died (sink_server.py)
_WRITER_EXIT_S = 5.0


@dataclass(frozen=True)
class Leftover:
    name: str  # the directory's name in .staging/
    kind: str  # "partial": an episode that never finished; "trash": a removal that was interrupted
    task: str | None
    start_time: str | None
    bytes: int
    modified: str
    removed: bool

    def __str__(self) -> str:
        if self.kind == "partial":
            what = f"unfinished episode (task {self.task!r}, started {self.start_time or 'unknown'})"
        else:
            what = "removed episode not yet deleted"
        fate = "deleted" if self.removed else "left in place (another process is writing this dataset)"
        return f"{what}, {human_bytes(self.bytes)}, last written {self.modified}: {fate}"


def find_leftovers(staging: Path) -> list[Path]:
    if not staging.is_dir():
        return []
    return sorted(
        p for p in staging.iterdir() if p.is_dir() and p.name.startswith((PARTIAL_PREFIX, TRASH_PREFIX))
    )


def report_and_clean(staging: Path, clean: bool) -> list[Leftover]:
    """Describe every leftover; delete them when `clean` (the caller holds the dataset's lock)."""
    out = []
    for path in find_leftovers(staging):
        attrs = _group_attrs(path)
        kind = "partial" if path.name.startswith(PARTIAL_PREFIX) else "trash"
        size = tree_bytes(path)
        modified = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))
        if clean:
            _remove_when_unlocked(path)
        leftover = Leftover(
            path.name,
            kind,
            attrs.get("task"),
            attrs.get("start_time"),
            size,
            modified,
            clean and not path.exists(),
        )
        # a reader finding a live recorder's episode in progress is normal, not a warning
        log.log(logging.WARNING if clean else logging.INFO, "%s: %s", staging.parent, leftover)
        out.append(leftover)
    return out


def _remove_when_unlocked(path: Path) -> None:
    """Delete a leftover once no writer process holds it. A recorder killed a moment ago may leave its
    writer process finishing the write in hand; that process exits as soon as it sees its parent gone."""
    lock = DirLock(path)
    try:
        held = lock.acquire(wait_s=_WRITER_EXIT_S)
    except OSError:
        held = True  # not a folder we can lock (half-created): nobody writes it either
    try:
        if held:
            remove_tree(path)
    finally:
        lock.release()


def _group_attrs(path: Path) -> dict:
    """The group attrs of a maybe-half-written episode: read the JSON by hand, expect anything."""
    try:
        meta = json.loads((path / "zarr.json").read_text())
        attrs = meta.get("attributes", {})
        return attrs if isinstance(attrs, dict) else {}
    except (OSError, ValueError):
        return {}
