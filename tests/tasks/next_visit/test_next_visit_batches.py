"""Next-visit batches: exact contract, no future event in any input, targets = next visit's labels,
loaders with the length-bucket sampler.
"""

from __future__ import annotations

import datetime as dt
from functools import partial

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from clincode.data.labels import LabelSpace
from clincode.tasks.next_visit.batches import (
    NextVisitCollator,
    NextVisitDataset,
    collate_next_visit,
    next_visit_dataset,
)
from clincode.tasks.next_visit.build import build_next_visit
from clincode.tasks.sampler import LengthBucketBatchSampler
from helpers.meds_cohorts import epoch_seconds, random_cohort, write_meds

CONTRACT = {
    "codes": (torch.long, 2),
    "visit": (torch.long, 2),
    "age": (torch.float32, 2),
    "token_mask": (torch.bool, 2),
    "visit_mask": (torch.bool, 2),
    "sex": (torch.long, 1),
    "targets": (torch.int8, 3),
    "subject_id": (torch.long, 1),
    "visit_time": (torch.long, 2),
    "token_time": (torch.long, 2),
    "history_index": (torch.long, 2),
    "history_count": (torch.float32, 1),
    "history_recency": (torch.float32, 1),
    "history_gap_days": (torch.float32, 1),
}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    events, splits = random_cohort(21, n_patients=80)
    root = write_meds(tmp_path_factory.mktemp("b") / "m", events, splits)
    data = build_next_visit(root, num_labels=9, visit_window=dt.timedelta(hours=8), progress=False)
    return events, splits, data


def reference_visits(events, sid, window):
    """Raw events of one subject grouped into anchored-window visits: [(visit_time_s, set of codes)]."""
    timed = sorted((t, c) for s, t, c in events if s == sid and t is not None and c != "MEDS_BIRTH" and not c.startswith("GENDER//"))
    visits, anchor = [], None
    for t, c in timed:
        if anchor is None or t - anchor > window:
            visits.append([t, set()])
            anchor = t
        visits[-1][0] = t
        visits[-1][1].add(c)
    return [(epoch_seconds(t), codes) for t, codes in visits]


def all_batches(data, split, batch_size):
    ds = next_visit_dataset(data, split)
    return [collate_next_visit([ds[i] for i in range(s, min(s + batch_size, len(ds)))], data.num_labels) for s in range(0, len(ds), batch_size)]


def test_batch_contract_shapes_and_dtypes(cohort):
    _, _, data = cohort
    batch = all_batches(data, "train", 7)[0]
    assert set(batch) == set(CONTRACT)
    B, L = batch["codes"].shape
    T = batch["visit_mask"].shape[1]
    for key, (dtype, ndim) in CONTRACT.items():
        assert batch[key].dtype == dtype and batch[key].dim() == ndim, key
    assert batch["targets"].shape == (B, T, data.num_labels)
    for key in ("visit", "age", "token_mask", "token_time"):
        assert batch[key].shape == (B, L)
    assert batch["visit_time"].shape == (B, T) and batch["sex"].shape == (B,)
    pad = ~batch["token_mask"]
    assert (batch["codes"][pad] == 0).all() and (batch["codes"][~pad] != 0).all()
    assert (batch["visit"][pad] == 0).all() and (batch["token_time"][pad] == 0).all() and (batch["age"][pad] == 0).all()
    assert (batch["visit_time"][~batch["visit_mask"]] == 0).all()
    assert torch.isfinite(batch["age"]).all()


@pytest.mark.parametrize("split", ["train", "tuning", "held_out"])
def test_no_future_event_and_targets_are_next_visit(cohort, split):
    events, _, data = cohort
    space: LabelSpace = data.label_space
    checked_targets = 0
    for batch in all_batches(data, split, 5):
        B, T = batch["visit_mask"].shape
        for b in range(B):
            mask = batch["token_mask"][b]
            tv = batch["visit"][b][mask]
            tt = batch["token_time"][b][mask]
            n_visits = int(batch["visit_mask"][b].sum())
            vt = batch["visit_time"][b][:n_visits]
            assert (tv[1:] >= tv[:-1]).all()  # flattened in visit order
            assert (tt[1:] >= tt[:-1]).all()  # and in time order
            assert set(tv.tolist()) == set(range(n_visits))  # every visit has tokens
            assert (vt[1:] > vt[:-1]).all()
            # Leakage: a token of visit j is seen by predictions at visits t >= j, all dated >= it.
            for t in range(n_visits):
                assert (tt[tv <= t] <= vt[t]).all()
            # Targets from the raw events: row t = label set of visit t + 1.
            ref = reference_visits(events, int(batch["subject_id"][b]), dt.timedelta(hours=8))
            ref = ref[-data.config.max_visits :]
            assert [r[0] for r in ref] == vt.tolist()
            targets = batch["targets"][b]
            for t in range(n_visits - 1):
                want = np.zeros(data.num_labels, dtype=np.int8)
                want[space.transform(ref[t + 1][1])] = 1
                assert targets[t].numpy().tolist() == want.tolist()
                checked_targets += int(want.sum())
            assert (targets[n_visits - 1 :] == -1).all()  # last visit and padded visits
            assert (targets[: n_visits - 1] != -1).all()
    assert checked_targets > 10


def test_age_is_per_visit_and_unknown_is_zero(cohort):
    _, _, data = cohort
    table = data.split("train")
    ds = NextVisitDataset(table)
    batch = collate_next_visit([ds[i] for i in range(len(ds))], data.num_labels)
    for b, ages in enumerate(table["age"].to_list()):
        tv = batch["visit"][b][batch["token_mask"][b]]
        got = batch["age"][b][batch["token_mask"][b]]
        want = torch.tensor([0.0 if np.isnan(ages[v]) else ages[v] for v in tv.tolist()])
        assert torch.equal(got, want)
    assert (batch["sex"] == torch.tensor(table["sex"].to_list())).all()


def test_max_tokens_keeps_most_recent_visits(cohort):
    _, _, data = cohort
    full = NextVisitDataset(data.split("train"))
    cut = NextVisitDataset(data.split("train"), max_tokens=6)
    shortened = 0
    for i in range(len(full)):
        a, b = full[i], cut[i]
        assert len(b["tokens"]) <= 6 or len(b["visit_time"]) == 1
        k = len(a["visit_time"]) - len(b["visit_time"])
        assert np.array_equal(a["visit_time"][k:], b["visit_time"])  # a suffix of the visits
        if k:
            shortened += 1
            assert np.array_equal(a["tokens"][-len(b["tokens"]) :], b["tokens"])
    assert shortened > 0
    assert cut.num_tokens().max() <= 6


def test_dataloader_with_collator_and_sampler(cohort):
    _, _, data = cohort
    ds = next_visit_dataset(data, "train")
    sampler = LengthBucketBatchSampler(ds.num_tokens(), batch_size=4, seed=3)
    loader = DataLoader(ds, batch_sampler=sampler, collate_fn=NextVisitCollator(data.num_labels))
    seen = torch.cat([batch["subject_id"] for batch in loader])
    assert sorted(seen.tolist()) == sorted(data.split("train")["subject_id"].to_list())
    plain = DataLoader(ds, batch_size=4, collate_fn=partial(collate_next_visit, num_labels=data.num_labels))
    assert sum(b["codes"].shape[0] for b in plain) == len(ds)


def test_collate_rejects_empty():
    with pytest.raises(ValueError, match="empty list of samples"):
        collate_next_visit([], 3)
