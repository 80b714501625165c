"""Changing committed episodes without ever making the store unreadable: tags, and episodes copied in.

Both follow the store's crash rules (docs/episode_store.md):

- an attribute change (tags) rewrites the episode's `zarr.json` as a new file beside it, fsyncs it,
  and renames it over the old one — one atomic `rename(2)`: a crash leaves the old tags or the new,
  never a half-written file;
- an episode copied in from another dataset (merge) is copied into `.staging/partial-…`, fsynced, and
  made visible by the same single rename a freshly recorded episode gets. The source is only read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path

from robot_stack.errors import RobotStackError
from robot_stack.store.files import fsync_dir, fsync_tree
from robot_stack.store.layout import PARTIAL_PREFIX

TAG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def check_tags(tags) -> list[str]:
    """Tags as stored: sorted, unique, each a short word (letters, digits, `_ . : -`)."""
    out = sorted({str(t) for t in tags})
    bad = [t for t in out if not TAG_PATTERN.match(t)]
    if bad:
        raise RobotStackError(
            f"tag {bad[0]!r} is not allowed",
            hint="a tag is one word of up to 64 letters, digits or _ . : - (e.g. bad, intervention, day-2)",
        )
    return out


def update_group_attrs(group_dir: Path, updates: dict) -> dict:
    """Merge `updates` into a zarr group's attributes, atomically and durably; returns the new attrs."""
    meta_path = group_dir / "zarr.json"
    meta = json.loads(meta_path.read_text())
    attrs = dict(meta.get("attributes") or {})
    attrs.update(updates)
    meta["attributes"] = attrs
    tmp = group_dir / f".zarr.json.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "w") as f:
            f.write(json.dumps(meta, indent=2))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, meta_path)  # one atomic step: the old attrs or the new, never half
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(group_dir)
    return attrs


def copy_into_staging(source: Path, staging_dir: Path, attrs_updates: dict) -> Path:
    """Copy a committed episode directory into `staging_dir` (a new partial-… folder), set some of its
    attrs, flush it all to disk, and return the folder, ready for the commit rename."""
    if not (source / "zarr.json").is_file():
        raise RobotStackError(f"{source} is not an episode (no zarr.json)", hint="check the source dataset")
    partial = staging_dir / f"{PARTIAL_PREFIX}{uuid.uuid4().hex}"
    try:
        shutil.copytree(source, partial)  # file contents byte for byte
        if attrs_updates:
            update_group_attrs(partial, attrs_updates)
        fsync_tree(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return partial
