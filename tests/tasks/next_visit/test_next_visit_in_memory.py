"""The next-visit task builds its data in memory for the commands outside a run (demo, segments)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clincode.config import load_config
from clincode.demo import demo_config, train_label_codes
from clincode.resources import config_path
from clincode.segments_cli import meds_label_counts
from clincode.tasks import TASKS
from clincode.tasks.base import InMemoryBuildTask
from clincode.tasks.next_visit.build import build_next_visit
from clincode.tasks.next_visit.task import next_visit_label_stats, task_kwargs


def test_the_registered_next_visit_task_builds_in_memory() -> None:
    assert isinstance(TASKS.get("next_visit")(), InMemoryBuildTask)


def test_build_in_memory_equals_the_builder_with_the_same_settings(tiny_cohort: Path) -> None:
    task = TASKS.get("next_visit")()
    data = task.build_in_memory(tiny_cohort, num_labels=20)
    reference = build_next_visit(tiny_cohort, num_labels=20, progress=False)
    assert list(data.label_space.codes_) == list(reference.label_space.codes_)
    np.testing.assert_array_equal(task.label_stats(data).positives, next_visit_label_stats(reference).positives)


def test_build_in_memory_reads_the_config_and_settings_win(tiny_cohort: Path) -> None:
    cfg = load_config(config_path("demo"), [f"data.path={tiny_cohort}"])
    data = TASKS.get("next_visit")().build_in_memory(tiny_cohort, cfg, num_labels=None)
    reference = build_next_visit(tiny_cohort, **(task_kwargs(cfg) | {"num_labels": None, "progress": False}))
    assert data.num_labels == reference.num_labels
    assert data.num_labels != cfg.data.params["num_labels"]


def test_demo_and_segments_see_the_task_s_labels(tiny_cohort: Path) -> None:
    cfg = load_config(demo_config("demo"), [f"data.path={tiny_cohort}"])
    everything = build_next_visit(tiny_cohort, **(task_kwargs(cfg) | {"num_labels": None, "progress": False}))
    assert train_label_codes(tiny_cohort) == everything.num_labels
    counts, codes = meds_label_counts(tiny_cohort, num_labels=15)
    reference = build_next_visit(tiny_cohort, num_labels=15, progress=False)
    assert codes == list(reference.label_space.codes_)
    np.testing.assert_array_equal(counts, next_visit_label_stats(reference).positives)
