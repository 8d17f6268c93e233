"""Prediction tasks: one folder per task, registered in :data:`TASKS` by its ``data.task`` name.

Importing this package registers every task; :func:`task_for` gives the task of a run config,
:func:`resolve_data` the config with the task's ``data.params`` checked and filled in.
"""

from typing import Any

from clincode.tasks.base import TASKS, Predictions, RunParts, Task, TaskData, data_params, resolve_data, task_for, task_params
from clincode.tasks.coding.task import CodingTask
from clincode.tasks.next_visit.task import NextVisitTask
from clincode.tasks.params import TaskParams


def describe_tasks() -> list[dict[str, Any]]:
    """Every registered task with its data.params and their defaults (``clincode list tasks``)."""
    return TASKS.describe()


__all__ = [
    "TASKS",
    "CodingTask",
    "NextVisitTask",
    "Predictions",
    "RunParts",
    "Task",
    "TaskData",
    "TaskParams",
    "data_params",
    "describe_tasks",
    "resolve_data",
    "task_for",
    "task_params",
]
