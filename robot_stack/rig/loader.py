"""Read `hardware.yaml` into a RigSpec, turning every defect into one clear line per problem."""

from __future__ import annotations

from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from robot_stack.errors import RobotStackError
from robot_stack.rig.checks import Problem, check_rig
from robot_stack.rig.schema import RigSpec


class RigFileError(RobotStackError):
    """A rig file that cannot be used; `problems` holds one entry per defect."""

    def __init__(self, path: Path, problems: list[Problem]):
        self.path = path
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        lines = [f"{path} is not a valid rig description ({count}):"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines), hint=f"edit {path}; `robot-stack rig check {path}` re-checks it")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a rig file with a joint listed twice is a mistake."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` keys may legitimately be overridden after the merge
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice (first on line {seen[key]})", key_node.start_mark
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_rig(path: str | Path) -> RigSpec:
    path = Path(path)
    return parse_rig(read_rig_text(path), path)


def read_rig_text(path: Path) -> str:
    if not path.exists():
        raise RobotStackError(
            f"rig file {path} not found",
            hint="pass --rig PATH, or copy hardware.yaml / examples/*.yaml and edit it for your rig",
        )
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RobotStackError(
            f"cannot read rig file {path}: {exc}", hint="check the file's permissions"
        ) from exc


def parse_rig(text: str, path: Path) -> RigSpec:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise RigFileError(path, [Problem("", _yaml_problem(exc))]) from None
    if not isinstance(data, dict):
        raise RigFileError(
            path, [Problem("", "the file must be a mapping with keys name, backend, arms, ...")]
        )
    try:
        rig = RigSpec.model_validate(data)
    except ValidationError as exc:
        raise RigFileError(path, [_pydantic_problem(err) for err in exc.errors()]) from None
    problems = check_rig(rig)
    if problems:
        raise RigFileError(path, problems)
    return rig


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"not valid YAML: {problem}"
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _pydantic_problem(err: dict) -> Problem:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return Problem(_dotted(loc), f"unknown key '{loc[-1]}'; remove it or fix its spelling{hint}")
    if kind == "missing":
        return Problem(_dotted(loc), "required field is missing; add it")
    if kind == "value_error":
        # our own validators: the message already says what to do
        return Problem(_dotted(loc), str(err["ctx"]["error"]))
    message = err["msg"]
    message = message[0].lower() + message[1:]
    return Problem(_dotted(loc), f"{message} (got {err['input']!r})")


def _fields_at(loc: tuple) -> list[str]:
    """Names of the fields the schema allows at `loc`, by walking RigSpec along it."""
    node: Any = RigSpec
    for part in loc:
        node = _unwrap_optional(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(str(part))
            if field is None:
                return []
            node = field.annotation
        else:
            args = getattr(node, "__args__", ())  # dict[str, X] / list[X]: a key or index lands on X
            node = args[-1] if args else node
    node = _unwrap_optional(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return []


def _unwrap_optional(annotation: Any) -> Any:
    """`X | None` → X when X is a schema model; anything else unchanged."""
    if get_origin(annotation) not in (Union, UnionType):
        return annotation
    for arg in get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation
