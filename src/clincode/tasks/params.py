"""The schema every task's ``data.params`` is validated against: :class:`TaskParams`.

Each task keeps its own subclass in its folder (``tasks/<name>/params.py``) and names it as the
``params`` class attribute of its registered class, so ``TASKS`` holds the schema beside the task;
:func:`clincode.tasks.base.task_params` validates a run config's ``data`` section with it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TaskParams(BaseModel):
    """A task's settings (``data.params``): unknown keys are rejected, values checked, defaults filled.

    The data layout before ``params`` held settings directly under ``data`` (``data.num_labels``)
    or in a section (``data.text.min_df``); :meth:`old_layout_key` says what each such key means
    for this task.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def old_layout_key(cls, key: str) -> str | None:
        """The param set by ``key`` of the layout before ``params`` (a path under ``data``, a section's
        keys dotted: ``num_labels``, ``text.min_df``); None: that layout had it but this task never read it.

        Default: a key directly under ``data`` is the param of the same name (an unknown one is
        rejected by the caller, named as ``data.<key>``).
        """
        return key
