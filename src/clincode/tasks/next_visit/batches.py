"""Torch dataset and collate function of the next-visit task.

Batch contract (consumed by the EHR models), B patients, L tokens, T visits, V labels:

    codes:      LongTensor  [B, L]  input token ids of all visits flattened in time order (0 = PAD)
    visit:      LongTensor  [B, L]  visit index 0..T-1 of each token (0 on padding; use token_mask)
    age:        FloatTensor [B, L]  age in years at the token's visit (0.0 on padding or if unknown)
    token_mask: BoolTensor  [B, L]  True for real tokens
    visit_mask: BoolTensor  [B, T]  True for real visits
    sex:        LongTensor  [B]     0 unknown, 1 F, 2 M
    targets:    Int8Tensor  [B, T, V] in {1, 0, -1}: at visit t the label set of visit t+1;
                -1 on padded visits and on each patient's last visit
    subject_id: LongTensor  [B]
    visit_time: LongTensor  [B, T]  epoch seconds, prediction time of each visit (0 on padding)
    token_time: LongTensor  [B, L]  epoch seconds of each token's event (0 on padding)
    history_index:    LongTensor  [E, 3]  (patient b, visit t, label c) of every label c already coded
                                          at a visit <= t of patient b (the visible label history)
    history_count:    FloatTensor [E]     visits <= t that carry c
    history_recency:  FloatTensor [E]     t minus the visit of c's last occurrence (0: coded at t)
    history_gap_days: FloatTensor [E]     days from that last occurrence to visit t

A token of visit t is visible to predictions at visits >= t (visit-level causal attention), and
every token of visit t is dated <= visit_time[t], so no prediction sees an event after its time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import numpy as np
import polars as pl
import torch
from torch.utils.data import Dataset

from clincode.data.vocab import PAD_ID
from clincode.forecasters.history import Histories
from clincode.tasks.next_visit.arrays import FlatSplit
from clincode.tasks.next_visit.data import NextVisitData


class NextVisitSample(TypedDict):
    """One patient, T visits, n tokens, m label entries (numpy arrays)."""

    subject_id: int
    sex: int
    visit_time: np.ndarray  # (T,) int64
    age: np.ndarray  # (T,) float32, NaN if unknown
    tokens: np.ndarray  # (n,) int64 token ids, time order
    token_visit: np.ndarray  # (n,) int64 visit index of each token
    token_time: np.ndarray  # (n,) int64 epoch seconds
    label_offsets: np.ndarray  # (T + 1,) int64 offsets into labels
    labels: np.ndarray  # (m,) int64 label columns of visits 0..T-1, concatenated


class NextVisitDataset(Dataset[NextVisitSample]):
    """One split of a next-visit task as flat numpy arrays (fast random access, cheap to fork).

    Args:
        table: a split table of :class:`NextVisitData` (see its module docstring), or its flat
            arrays (:class:`FlatSplit`, memory-mapped when loaded from a saved task).
        max_tokens: if set, a patient longer than this keeps only its most recent visits whose
            tokens fit (at least one visit; a single over-long visit keeps its first tokens).
    """

    def __init__(self, table: pl.DataFrame | FlatSplit, max_tokens: int | None = None) -> None:
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1 or None, got {max_tokens}.")
        self.max_tokens = max_tokens
        self._set_arrays(table if isinstance(table, FlatSplit) else FlatSplit.from_table(table))

    def _set_arrays(self, arrays: FlatSplit) -> None:
        self.arrays = arrays
        self.subject_id = arrays.subject_id
        self.sex = arrays.sex
        self.visit_offsets = arrays.visit_offsets  # (P + 1,) into visits
        self.visit_time = arrays.visit_time
        self.age = arrays.age
        self.token_offsets = arrays.token_offsets  # (NV + 1,) into tokens
        self.tokens = arrays.tokens
        self.token_time = arrays.token_time
        self.label_offsets = arrays.label_offsets  # (NV + 1,) into labels
        self.labels = arrays.labels

    # Workers started by spawn get the arrays' path (FlatSplit pickles memory-mapped arrays by path).
    def __getstate__(self) -> dict[str, object]:
        return {"arrays": self.arrays, "max_tokens": self.max_tokens}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.max_tokens = state["max_tokens"]  # type: ignore[assignment]  # the state __getstate__ wrote
        self._set_arrays(state["arrays"])  # type: ignore[arg-type]  # the state __getstate__ wrote

    def __len__(self) -> int:
        return len(self.subject_id)

    def num_tokens(self) -> np.ndarray:
        """(P,) tokens per patient before any max_tokens cut (for length bucketing)."""
        # token_offsets are cumulative over visits, so a patient's count is one difference.
        n = np.asarray(self.token_offsets[self.visit_offsets[1:]] - self.token_offsets[self.visit_offsets[:-1]], dtype=np.int64)
        return n if self.max_tokens is None else np.minimum(n, self.max_tokens)

    def __getitem__(self, index: int) -> NextVisitSample:
        v0, v1 = int(self.visit_offsets[index]), int(self.visit_offsets[index + 1])
        if self.max_tokens is not None:
            v0 = self._first_visit_within_budget(v0, v1)
        t0, t1 = int(self.token_offsets[v0]), int(self.token_offsets[v1])
        counts = np.diff(self.token_offsets[v0 : v1 + 1])
        token_visit = np.repeat(np.arange(v1 - v0, dtype=np.int64), counts)
        tokens, token_time = self.tokens[t0:t1], self.token_time[t0:t1]
        if self.max_tokens is not None and t1 - t0 > self.max_tokens:  # one visit alone is too long
            tokens, token_time, token_visit = (a[: self.max_tokens] for a in (tokens, token_time, token_visit))
        l0, l1 = int(self.label_offsets[v0]), int(self.label_offsets[v1])
        return NextVisitSample(
            subject_id=int(self.subject_id[index]),
            sex=int(self.sex[index]),
            visit_time=np.asarray(self.visit_time[v0:v1]),
            age=np.asarray(self.age[v0:v1]),
            tokens=np.asarray(tokens, dtype=np.int64),
            token_visit=token_visit,
            token_time=np.asarray(token_time, dtype=np.int64),
            label_offsets=self.label_offsets[v0 : v1 + 1] - l0,
            labels=np.asarray(self.labels[l0:l1], dtype=np.int64),
        )

    def _first_visit_within_budget(self, v0: int, v1: int) -> int:
        assert self.max_tokens is not None
        total = int(self.token_offsets[v1] - self.token_offsets[v0])
        start = v0
        while total > self.max_tokens and start < v1 - 1:
            total -= int(self.token_offsets[start + 1] - self.token_offsets[start])
            start += 1
        return start


def next_visit_dataset(data: NextVisitData, split: str, max_tokens: int | None = None) -> NextVisitDataset:
    """Dataset over one split of a prepared task (memory-mapped arrays when it was loaded from disk)."""
    return NextVisitDataset(data.arrays(split), max_tokens=max_tokens)


def collate_next_visit(samples: Sequence[NextVisitSample], num_labels: int) -> dict[str, torch.Tensor]:
    """Pad a list of samples into the batch contract of this module's docstring."""
    if not samples:
        raise ValueError("collate_next_visit got an empty list of samples; expected at least one.")
    B = len(samples)
    T = max(len(s["visit_time"]) for s in samples)
    L = max(max(len(s["tokens"]) for s in samples), 1)
    codes = np.full((B, L), PAD_ID, dtype=np.int64)
    visit = np.zeros((B, L), dtype=np.int64)
    age = np.zeros((B, L), dtype=np.float32)
    token_time = np.zeros((B, L), dtype=np.int64)
    token_mask = np.zeros((B, L), dtype=bool)
    visit_mask = np.zeros((B, T), dtype=bool)
    visit_time = np.zeros((B, T), dtype=np.int64)
    targets = np.full((B, T, num_labels), -1, dtype=np.int8)
    for b, s in enumerate(samples):
        n, nv = len(s["tokens"]), len(s["visit_time"])
        codes[b, :n] = s["tokens"]
        visit[b, :n] = s["token_visit"]
        # Unknown age (NaN) becomes 0.0 so embeddings stay finite.
        age[b, :n] = np.nan_to_num(s["age"][s["token_visit"]], nan=0.0)
        token_time[b, :n] = s["token_time"]
        token_mask[b, :n] = True
        visit_mask[b, :nv] = True
        visit_time[b, :nv] = s["visit_time"]
        if nv > 1:
            targets[b, : nv - 1] = 0
            # Row t gets the labels of visit t + 1.
            per_visit = np.diff(s["label_offsets"])
            rows = np.repeat(np.arange(nv, dtype=np.int64), per_visit) - 1
            keep = rows >= 0
            cols = s["labels"]
            targets[b, rows[keep], cols[keep]] = 1
    return {
        "codes": torch.from_numpy(codes),
        "visit": torch.from_numpy(visit),
        "age": torch.from_numpy(age),
        "token_mask": torch.from_numpy(token_mask),
        "visit_mask": torch.from_numpy(visit_mask),
        "sex": torch.tensor([s["sex"] for s in samples], dtype=torch.long),
        "targets": torch.from_numpy(targets),
        "subject_id": torch.tensor([s["subject_id"] for s in samples], dtype=torch.long),
        "visit_time": torch.from_numpy(visit_time),
        "token_time": torch.from_numpy(token_time),
        **_history_entries(samples, num_labels),
    }


def _history_entries(samples: Sequence[NextVisitSample], num_labels: int) -> dict[str, torch.Tensor]:
    """The visible label history of every (patient, visit) of the batch (see the batch contract)."""
    n_visits = np.array([len(s["visit_time"]) for s in samples], dtype=np.int64)
    visit_offsets = np.concatenate([[0], np.cumsum(n_visits)])
    label_counts = np.concatenate([np.diff(s["label_offsets"]) for s in samples])
    h = Histories.from_arrays(
        num_labels=num_labels,
        label_codes=(),
        subject_id=np.arange(len(samples)),
        sex=np.zeros(len(samples), dtype=np.int64),
        visit_offsets=visit_offsets,
        visit_time=np.concatenate([s["visit_time"] for s in samples]),
        age=np.zeros(int(visit_offsets[-1]), dtype=np.float32),
        label_offsets=np.concatenate([[0], np.cumsum(label_counts)]),
        labels=np.concatenate([s["labels"] for s in samples]),
        keep="visits",
    )
    ent = h.entries()  # rows are the batch's visits in order
    patient = h.visit_patient[ent.row]
    index = np.stack([patient, ent.row - visit_offsets[patient], ent.label], axis=1)
    return {
        "history_index": torch.from_numpy(index.astype(np.int64)),
        "history_count": torch.from_numpy(ent.count.astype(np.float32)),
        "history_recency": torch.from_numpy(ent.recency.astype(np.float32)),
        "history_gap_days": torch.from_numpy(ent.gap_days.astype(np.float32)),
    }


class NextVisitCollator:
    """Picklable ``collate_fn`` for DataLoader workers: ``NextVisitCollator(V)(samples)``."""

    def __init__(self, num_labels: int) -> None:
        if num_labels < 1:
            raise ValueError(f"num_labels must be >= 1, got {num_labels}.")
        self.num_labels = num_labels

    def __call__(self, samples: Sequence[NextVisitSample]) -> dict[str, torch.Tensor]:
        return collate_next_visit(samples, self.num_labels)
