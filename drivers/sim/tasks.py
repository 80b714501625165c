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
