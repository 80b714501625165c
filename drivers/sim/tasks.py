"""The task registry: every simulated task by name."""

from __future__ import annotations

from drivers.sim.task_base import Task
from drivers.sim.task_insertion import Insertion
from drivers.sim.task_transfer_cube import TransferCube, TransferCubeRotated
from robot_stack.errors import RobotStackError

TASKS: dict[str, Task] = {task.name: task for task in (TransferCube(), TransferCubeRotated(), Insertion())}


def get_task(task: str | Task) -> Task:
    if isinstance(task, Task):
        return task
    if task not in TASKS:
        raise RobotStackError(
            f"unknown simulation task {task!r}",
            hint=f"use one of: {', '.join(sorted(TASKS))} (in hardware.yaml: sim.task)",
        )
    return TASKS[task]


def single_task_named(texts: list[str]) -> str | None:
    """The simulated task a set of episodes was recorded for, when their task texts name exactly one."""
    return texts[0] if len(texts) == 1 and texts[0] in TASKS else None
