"""The next-visit task on the synthetic MEDS generator's output (the real-shaped end-to-end path)."""

from __future__ import annotations

import polars as pl
import pytest
import torch

from clincode.data.labels import LabelSpace
from clincode.data.synthetic import generate_ehr_cohort
from clincode.tasks.next_visit.batches import NextVisitDataset, collate_next_visit
from clincode.tasks.next_visit.build import build_next_visit
from helpers.meds_cohorts import decoded_split, reference_task


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = generate_ehr_cohort(tmp_path_factory.mktemp("syn") / "meds", 300, 200, seed=3, shard_size=120, progress=False)
    data = build_next_visit(root, num_labels=60, max_visits=10, progress=False)
    return root, data


def test_synthetic_matches_reference(synthetic):
    root, data = synthetic
    events = pl.read_parquet(root / "data" / "*.parquet").select("subject_id", "time", "code").rows()
    splits = dict(pl.read_parquet(root / "metadata" / "subject_splits.parquet").rows())
    ref = reference_task(events, splits, 60, LabelSpace().label_of, max_visits=10)
    assert data.label_space.codes_ == ref["label_codes"]
    assert data.label_space.counts_.tolist() == ref["label_counts"]
    for split in ("train", "tuning", "held_out"):
        got = decoded_split(data, split)
        assert set(got) == set(ref["splits"][split])
        assert set(got) <= {s for s, name in splits.items() if name == split}
        for sid, want in ref["splits"][split].items():
            assert got[sid]["tokens"] == want["tokens"]
            assert got[sid]["labels"] == want["labels"]
            assert got[sid]["visit_time"] == want["visit_time"]
            assert got[sid]["sex"] == want["sex"] != 0  # the generator writes a sex for everyone


def test_synthetic_batches_never_see_the_future(synthetic):
    _, data = synthetic
    ds = NextVisitDataset(data.split("held_out"))
    batch = collate_next_visit([ds[i] for i in range(len(ds))], data.num_labels)
    vt = batch["visit_time"]  # (B, T)
    tt = batch["token_time"]  # (B, L)
    visible = batch["visit"].unsqueeze(2) <= torch.arange(vt.shape[1]).view(1, 1, -1)  # token j seen at visit t
    visible &= batch["token_mask"].unsqueeze(2) & batch["visit_mask"].unsqueeze(1)
    assert visible.any()
    assert (tt.unsqueeze(2) <= vt.unsqueeze(1))[visible].all()
    last = batch["visit_mask"].sum(1) - 1
    assert (batch["targets"][torch.arange(len(last)), last] == -1).all()
    assert (batch["targets"] == 1).sum() > 100
