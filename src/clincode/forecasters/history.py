"""Visit histories in label space: what a one-pass next-visit forecaster reads.

A row is (patient, visit v): the forecast made at visit v's time for the patient's next visit,
from visits ``<= v`` only (visit v itself is observed at its prediction time). The rows of a split
are every visit that has a next one (``keep="targets"``, what evaluation scores) or every visit
(``keep="visits"``, the forecast after each patient's last visit included), in the order of the
split's flat arrays.

:meth:`Histories.entries` lists, for every row, each label already coded in the visible history
with its count and the visit of its last occurrence, as flat arrays: one pass over the label
events (ragged ranges, no Python loop per patient), so 200,000 patients take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

Keep = Literal["targets", "visits"]


def ragged_arange(lengths: np.ndarray) -> np.ndarray:
    """0..n-1 for each n of ``lengths``, concatenated."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total, dtype=np.int64) - starts


@dataclass(frozen=True)
class HistoryEntries:
    """(row, label) pairs whose label is in the row's visible history, sorted by row then label.

    Attributes:
        row: (E,) row index.
        label: (E,) label column.
        count: (E,) visits <= v that carry the label.
        recency: (E,) v minus the visit of its last occurrence (0: coded at visit v itself).
        gap_days: (E,) days between that last occurrence and visit v.
    """

    row: np.ndarray
    label: np.ndarray
    count: np.ndarray
    recency: np.ndarray
    gap_days: np.ndarray

    def __len__(self) -> int:
        return int(self.row.size)

    def select(self, mask: np.ndarray) -> HistoryEntries:
        """The entries where ``mask`` (E,) is true, in order."""
        return HistoryEntries(self.row[mask], self.label[mask], self.count[mask], self.recency[mask], self.gap_days[mask])


@dataclass(frozen=True)
class Histories:
    """One split's label histories and the rows to forecast (see the module docstring).

    Attributes:
        num_labels: V.
        label_codes: (V,) code of each label column.
        subject_id, sex: (P,) per patient; visit_offsets (P + 1,): patient p's visits are
            ``visit_offsets[p]:visit_offsets[p + 1]`` (global visit indices).
        visit_time: (NV,) epoch seconds; age: (NV,) years (NaN unknown).
        label_offsets (NV + 1,), labels (NL,): label columns of each visit.
        rows: (N,) global visit index v of each row.
        source: the dataset directory the split was read from (None in memory).
    """

    num_labels: int
    label_codes: tuple[str, ...]
    subject_id: np.ndarray
    sex: np.ndarray
    visit_offsets: np.ndarray
    visit_time: np.ndarray
    age: np.ndarray
    label_offsets: np.ndarray
    labels: np.ndarray
    rows: np.ndarray
    source: Path | None = None

    @classmethod
    def from_arrays(
        cls,
        *,
        num_labels: int,
        label_codes: tuple[str, ...],
        subject_id: np.ndarray,
        sex: np.ndarray,
        visit_offsets: np.ndarray,
        visit_time: np.ndarray,
        age: np.ndarray,
        label_offsets: np.ndarray,
        labels: np.ndarray,
        keep: Keep = "targets",
        source: Path | None = None,
    ) -> Histories:
        visit_offsets = np.asarray(visit_offsets, dtype=np.int64)
        n_visits = int(visit_offsets[-1])
        last = np.zeros(n_visits, dtype=bool)
        per_patient = np.diff(visit_offsets)
        last[visit_offsets[1:][per_patient > 0] - 1] = True
        rows = np.flatnonzero(~last) if keep == "targets" else np.arange(n_visits)
        return cls(
            num_labels=int(num_labels),
            label_codes=tuple(label_codes),
            subject_id=np.asarray(subject_id, dtype=np.int64),
            sex=np.asarray(sex, dtype=np.int64),
            visit_offsets=visit_offsets,
            visit_time=np.asarray(visit_time, dtype=np.int64),
            age=np.asarray(age, dtype=np.float32),
            label_offsets=np.asarray(label_offsets, dtype=np.int64),
            labels=np.asarray(labels, dtype=np.int64),
            rows=rows.astype(np.int64),
            source=source,
        )

    def first_patients(self, n: int) -> Histories:
        """The histories and rows of the first ``n`` patients only (global visit indices unchanged)."""
        n = max(0, min(int(n), self.n_patients))
        nv = int(self.visit_offsets[n])
        return Histories(
            num_labels=self.num_labels,
            label_codes=self.label_codes,
            subject_id=self.subject_id[:n],
            sex=self.sex[:n],
            visit_offsets=self.visit_offsets[: n + 1],
            visit_time=self.visit_time[:nv],
            age=self.age[:nv],
            label_offsets=self.label_offsets[: nv + 1],
            labels=self.labels[: int(self.label_offsets[nv])],
            rows=self.rows[self.rows < nv],
            source=self.source,
        )

    def __len__(self) -> int:
        return int(self.rows.size)

    @property
    def n_patients(self) -> int:
        return int(self.subject_id.size)

    @cached_property
    def visit_patient(self) -> np.ndarray:
        """(NV,) patient of each visit."""
        return np.repeat(np.arange(self.n_patients, dtype=np.int64), np.diff(self.visit_offsets))

    @cached_property
    def row_patient(self) -> np.ndarray:
        """(N,) patient of each row."""
        return self.visit_patient[self.rows]

    @property
    def row_visit_index(self) -> np.ndarray:
        """(N,) index of each row's visit within its patient (0 = first visit)."""
        return self.rows - self.visit_offsets[self.row_patient]

    @cached_property
    def _events(self) -> tuple[np.ndarray, np.ndarray]:
        """(visit, label) of every label event, sorted by patient, label, visit; duplicates dropped."""
        visit = np.repeat(np.arange(self.visit_time.size, dtype=np.int64), np.diff(self.label_offsets))
        key = (self.visit_patient[visit] * self.num_labels + self.labels) * (self.visit_time.size + 1) + visit
        order = np.unique(key, return_index=True)[1]
        return visit[order], self.labels[order]

    @cached_property
    def has_next(self) -> np.ndarray:
        """(N,) bool: the row's patient has a visit after it (every row of a ``keep="targets"`` split)."""
        nxt = self.rows + 1
        out = np.zeros(len(self), dtype=bool)
        valid = nxt < self.visit_time.size
        out[valid] = self.visit_patient[nxt[valid]] == self.row_patient[valid]
        return out

    def targets(self) -> tuple[np.ndarray, np.ndarray]:
        """Positives of each row's next visit as CSR (indptr (N + 1,), label columns).

        Rows without a next visit (keep="visits", each patient's last) have none.
        """
        nxt = np.minimum(self.rows + 1, self.visit_time.size)
        counts = np.where(self.has_next, self.label_offsets[np.minimum(nxt + 1, self.visit_time.size)] - self.label_offsets[nxt], 0)
        starts = self.label_offsets[nxt]
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        idx = np.repeat(starts, counts) + ragged_arange(counts)
        return indptr, self.labels[idx]

    def target_matrix(self) -> np.ndarray:
        """(N, V) int8 targets: 1 / 0, and -1 on rows without a next visit."""
        indptr, cols = self.targets()
        out = np.zeros((len(self), self.num_labels), dtype=np.int8)
        out[np.repeat(np.arange(len(self)), np.diff(indptr)), cols] = 1
        out[~self.has_next] = -1
        return out

    def entries(self) -> HistoryEntries:
        """Every (row, label) with the label in the row's visible history (see :class:`HistoryEntries`)."""
        visit, label = self._events
        patient = self.visit_patient[visit]
        # The next occurrence of the same (patient, label), or the patient's end.
        same_next = np.zeros(visit.size, dtype=bool)
        same_next[:-1] = (patient[1:] == patient[:-1]) & (label[1:] == label[:-1])
        end = self.visit_offsets[patient + 1]
        until = np.where(same_next, np.roll(visit, -1), end)
        # Occurrence number of each event within its (patient, label) run.
        run_start = np.ones(visit.size, dtype=bool)
        run_start[1:] = ~same_next[:-1]
        run_id = np.cumsum(run_start) - 1
        first_of_run = np.flatnonzero(run_start)
        count = np.arange(visit.size, dtype=np.int64) - first_of_run[run_id] + 1
        # Event e is the last occurrence for the visits visit[e] .. until[e] - 1.
        span = until - visit
        e = np.repeat(np.arange(visit.size, dtype=np.int64), span)
        v = visit[e] + ragged_arange(span)
        # Keep visits that are rows: map global visit -> row index.
        row_of_visit = np.full(self.visit_time.size, -1, dtype=np.int64)
        row_of_visit[self.rows] = np.arange(len(self), dtype=np.int64)
        r = row_of_visit[v]
        keep = r >= 0
        e, v, r = e[keep], v[keep], r[keep]
        order = np.lexsort((label[e], r))
        e, v, r = e[order], v[order], r[order]
        gap = (self.visit_time[v] - self.visit_time[visit[e]]) / 86400.0
        return HistoryEntries(row=r, label=label[e], count=count[e], recency=v - visit[e], gap_days=gap.astype(np.float32))

    def history_mask(self) -> np.ndarray:
        """(N, V) bool: the label is in the row's visible history."""
        ent = self.entries()
        out = np.zeros((len(self), self.num_labels), dtype=bool)
        out[ent.row, ent.label] = True
        return out

    def next_positive(self, entries: HistoryEntries) -> np.ndarray:
        """(E,) bool: the entry's label is coded at its row's next visit."""
        indptr, cols = self.targets()
        target_key = np.repeat(np.arange(len(self), dtype=np.int64), np.diff(indptr)) * self.num_labels + cols
        return np.isin(entries.row * self.num_labels + entries.label, target_key, assume_unique=False)
