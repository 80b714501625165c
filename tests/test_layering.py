"""Imports flow one way (DESIGN.md §2): a policy knows nothing of servos, a driver nothing of policies."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WINGS = ("robot_stack", "drivers", "calibration", "policies", "deploy")

# wing → wings it must never import. robot_stack.app (workflows + CLI) may import everything.
FORBIDDEN = {
    "robot_stack": {"drivers", "calibration", "policies", "deploy", "robot_stack.app"},
    "drivers": {"calibration", "policies", "deploy", "robot_stack.app"},
    "calibration": {"policies", "deploy", "robot_stack.app"},
    "policies": {"drivers", "calibration", "deploy", "robot_stack.app"},
    "deploy": {"robot_stack.app"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def wing_of(path: Path) -> str:
    rel = path.relative_to(REPO)
    if rel.parts[:2] == ("robot_stack", "app"):
        return "robot_stack.app"
    return rel.parts[0]


SOURCES = [p for wing in WINGS for p in sorted((REPO / wing).rglob("*.py"))]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_imports_flow_one_way(path):
    wing = wing_of(path)
    if wing == "robot_stack.app":
        return
    bad = {
        name
        for name in imported_modules(path)
        for forbidden in FORBIDDEN[wing]
        if name == forbidden or name.startswith(forbidden + ".")
    }
    assert not bad, f"{path.relative_to(REPO)} ({wing}) imports {sorted(bad)}"


def test_nothing_imports_the_app():
    for path in SOURCES:
        if wing_of(path) != "robot_stack.app":
            assert not any(n.startswith("robot_stack.app") for n in imported_modules(path)), path
