"""The rig a dataset was recorded with, and what differs when someone tries to append with another."""

from __future__ import annotations

import json
from pathlib import Path

from robot_stack.rig import RigSpec, load_rig
from robot_stack.rig.loader import read_rig_text


def rig_record(rig: str | Path | RigSpec) -> tuple[str, dict]:
    """(the rig file's text, its parsed form as plain JSON data) for a rig file path or a RigSpec."""
    if isinstance(rig, RigSpec):
        parsed = rig.model_dump(mode="json")
        return json.dumps(parsed, indent=2), parsed  # JSON is valid YAML: the text still loads as a rig file
    path = Path(rig)
    spec = load_rig(path)  # raises the loader's per-field messages for a bad file
    return read_rig_text(path), spec.model_dump(mode="json")


def rig_differences(stored, given, where: str = "") -> list[str]:
    """One line per field that differs between two parsed rigs, named by its dotted path."""
    if isinstance(stored, dict) and isinstance(given, dict):
        out = []
        for key in list(stored) + [k for k in given if k not in stored]:
            path = f"{where}.{key}" if where else str(key)
            if key not in given:
                out.append(f"{path}: only in the dataset's rig")
            elif key not in stored:
                out.append(f"{path}: only in this rig")
            else:
                out += rig_differences(stored[key], given[key], path)
        return out
    if stored != given:
        return [f"{where or 'rig'}: dataset has {json.dumps(stored)}, this rig has {json.dumps(given)}"]
    return []
