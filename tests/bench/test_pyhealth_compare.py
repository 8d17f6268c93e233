"""benchmarks/pyhealth_compare.py: the exported samples are clincode's scored rows, in clincode's order,
with the same targets, and no sample carries a code dated after its prediction time.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console
from torch.utils.data import DataLoader

from clincode.config import load_config
from clincode.resources import config_path
from clincode.tasks import task_for
from clincode.tasks.next_visit.batches import NextVisitCollator, next_visit_dataset
from helpers.training import tiny_overrides

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "pyhealth_compare.py"
_spec = importlib.util.spec_from_file_location("pyhealth_compare", _PATH)
pc = importlib.util.module_from_spec(_spec)
sys.modules["pyhealth_compare"] = pc
_spec.loader.exec_module(pc)


def test_exported_rows_are_the_scored_rows_in_order(tiny_cohort, tmp_path):
    cfg = load_config(config_path("next_visit"), tiny_overrides(tiny_cohort, tmp_path))
    task = task_for(cfg)
    data = task.prepare(cfg, console=Console(quiet=True))
    for split in ("train", "held_out"):
        table = data.split(split)
        samples, labels_of_rows, keys = pc.split_rows(table)
        y = pc.target_matrix(labels_of_rows, data.num_labels)
        loader = DataLoader(next_visit_dataset(data, split), batch_size=7, collate_fn=NextVisitCollator(data.num_labels))
        subjects, visits, targets = [], [], []
        for batch in loader:
            rows = task.batch_rows(torch.zeros(*batch["targets"].shape), batch, "targets")
            subjects.append(rows["subject_id"])
            visits.append(rows["visit_index"])
            targets.append(rows["targets"])
        assert keys == list(zip(np.concatenate(subjects).tolist(), np.concatenate(visits).tolist(), strict=True))
        np.testing.assert_array_equal(y, np.concatenate(targets))
        assert len(samples) == len(keys) > 0
        tokens = {int(s): t for s, t in zip(table["subject_id"].to_list(), table["tokens"].to_list(), strict=True)}
        for sample, (subject, t) in zip(samples, keys, strict=True):
            # Inputs: exactly visits 0..t of the patient; the label is visit t + 1's set.
            assert sample["conditions"] == [[f"t{c}" for c in visit] for visit in tokens[subject][: t + 1]]
            assert sample["patient_id"] == str(subject)


def test_first_reaching_picks_the_earliest_row_at_or_above_the_level():
    curve = [{"test_auprc": 0.1, "train_seconds": 1.0}, {"test_auprc": 0.3, "train_seconds": 2.0}, {"test_auprc": 0.4, "train_seconds": 3.0}]
    assert pc.first_reaching(curve, 0.3)["train_seconds"] == 2.0
    assert pc.first_reaching(curve, 0.5) is None


def test_reference_rows_score_every_baseline_and_the_oracle_on_the_exported_rows(tiny_cohort, tmp_path):
    cfg = load_config(config_path("next_visit"), tiny_overrides(tiny_cohort, tmp_path))
    data = task_for(cfg).prepare(cfg, console=Console(quiet=True))
    targets = {split: pc.target_matrix(pc.split_rows(data.split(split))[1], data.num_labels) for split in ("train", "tuning", "held_out")}
    names = task_for(cfg).reference_models(cfg)
    assert names == ["prevalence", "repeat_table", "group_table", "tifu_knn", "history_bayes", "oracle"]  # a synthetic cohort: the baselines, what the history holds, the ceiling
    rows, history = pc.reference_rows(data, tiny_cohort, targets, names)
    assert list(rows) == names
    assert history.shape == targets["held_out"].shape and history.any() and not history.all()
    for name, row in rows.items():
        assert 0.0 < row["auprc"] <= 1.0 and 0.0 <= row["p@5"] <= 1.0, name
        assert row["repeat_auprc"] is not None and row["explore_auprc"] is not None, name
    # The table uses the history and the prevalence does not: on repeats the table ranks better.
    assert rows["repeat_table"]["repeat_auprc"] > rows["prevalence"]["repeat_auprc"]
    # Rows that are not the exported ones are refused before anything is scored.
    shuffled = dict(targets, held_out=targets["held_out"][::-1].copy())
    with pytest.raises(RuntimeError, match="held_out"):
        pc.reference_rows(data, tiny_cohort, shuffled, names)
    summary = {"sides": {}, "references": rows}
    table = pc.markdown(summary)
    assert all(f"| {name} (one pass" in table for name in names)
