"""``data.params`` of the next-visit task (``data.task: next_visit``): visits, inputs and labels."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field

from clincode.tasks.params import TaskParams


class NextVisitParams(TaskParams):
    """The next-visit task's settings (docs/methods.md section 1.1)."""

    num_labels: int = Field(1538, gt=0, description="size of the label space (top codes in train)")
    label_level: Literal["code", "category", "ccs"] = "code"
    visit_window_hours: float | None = Field(None, ge=0, description="None: one visit per timestamp")
    max_visits: int = Field(64, gt=1)
    max_codes_per_visit: int = Field(64, gt=0)
    min_code_count: int = Field(1, ge=1, description="input tokens seen fewer times in train become UNK")

    @classmethod
    def old_layout_key(cls, key: str) -> str | None:
        # Configs saved before params hold `text: null` (the section of the text task, unset here).
        return None if key == "text" else key

    def build_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`clincode.tasks.next_visit.build.build_next_visit` (the window as
        the builder's timedelta).
        """
        kwargs: dict[str, Any] = self.model_dump(exclude={"visit_window_hours"})
        kwargs["visit_window"] = None if self.visit_window_hours is None else timedelta(hours=self.visit_window_hours)
        return kwargs
