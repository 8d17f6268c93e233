"""Prediction tasks: one folder per task, registered in :data:`TASKS` by its ``data.task`` name.

Importing this package registers every task; :func:`task_for` gives the task of a run config.
"""

from clincode.tasks.base import TASKS, Predictions, RunParts, Task, TaskData, task_for
from clincode.tasks.coding.task import CodingTask
from clincode.tasks.next_visit.task import NextVisitTask

__all__ = ["TASKS", "CodingTask", "NextVisitTask", "Predictions", "RunParts", "Task", "TaskData", "task_for"]
