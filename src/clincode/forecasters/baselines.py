"""History baselines fitted in one pass (counts, no gradient steps): the floor a forecaster must clear.

``prevalence``: every label at its training rate of appearing at a next visit.

``group_table`` [ours]: the repeat table recalibrated per (sex, age band) group (class docstring).

``repeat_table``: a lookup table per label over cells of the label's own history at the row: never
coded for the patient, or coded with a given recency (visits since its last occurrence) and
frequency (visits that carried it so far). Each cell's rate is the training rate of the label
appearing at the next visit among the training rows in that cell, shrunk toward the cell's rate
pooled over all labels by ``smoothing`` pseudo-rows (so a rare label's cells borrow the shape of
the common ones). The cell scheme and the smoothing are chosen on the tuning split by micro AUPRC
(``scheme: auto``); ``last_earlier`` is the three-number table (last visit / only earlier / never).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clincode.forecasters.history import Histories, HistoryEntries
from clincode.forecasters.selection import micro_auprc
from clincode.metrics.ranking import micro_from_groups

# scheme -> (recency bin edges, count bin edges): bin i holds values in [edges[i], edges[i + 1]).
SCHEMES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "last_earlier": ((0, 1), (1,)),
    "recency": ((0, 1, 2, 3, 5), (1,)),
    "recency_count": ((0, 1, 2, 4), (1, 2, 3, 6)),
}
SMOOTHING_GRID = (0.0, 0.3, 1.0, 10.0)


def _bins(values: np.ndarray, edges: Sequence[int]) -> np.ndarray:
    return np.searchsorted(np.asarray(edges), values, side="right") - 1


class PrevalenceForecaster:
    """Every label at its training rate of appearing at a next visit, whatever the history."""

    def __init__(self) -> None:
        self.rate_: np.ndarray | None = None

    def fit(self, train: Histories, tuning: Histories | None = None) -> PrevalenceForecaster:
        _, cols = train.targets()
        n = max(len(train), 1)  # every training row has a next visit
        self.rate_ = (np.bincount(cols, minlength=train.num_labels) / n).astype(np.float32)
        return self

    def predict_proba(self, h: Histories) -> np.ndarray:
        assert self.rate_ is not None, "fit first"
        return np.broadcast_to(self.rate_, (len(h), h.num_labels)).copy()

    def to_dict(self) -> dict[str, Any]:
        return {"rate": None if self.rate_ is None else self.rate_.tolist()}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> PrevalenceForecaster:
        out = cls()
        out.rate_ = np.asarray(state["rate"], dtype=np.float32)
        return out


@dataclass(frozen=True)
class _TuningCounts:
    """What scoring a lookup table on the tuning split needs: its rows with a next visit, their
    history entries with the next visit's outcome, and per label the positives and history rows.
    """

    n_rows: int
    entries: HistoryEntries
    positive: np.ndarray  # (E,) int64, the entry's label is coded at the next visit
    label_positives: np.ndarray  # (V,) positives of each label over the rows
    label_entries: np.ndarray  # (V,) rows with the label in their history

    @classmethod
    def of(cls, h: Histories) -> _TuningCounts:
        ent = h.entries()
        ent = ent.select(h.has_next[ent.row])
        return cls(
            n_rows=int(h.has_next.sum()),
            entries=ent,
            positive=h.next_positive(ent).astype(np.int64),
            label_positives=np.bincount(h.targets()[1], minlength=h.num_labels),
            label_entries=np.bincount(ent.label, minlength=h.num_labels),
        )

    def micro_auprc(self, cell: np.ndarray, never: np.ndarray, cells: np.ndarray) -> float:
        """Micro AUPRC of the table (``never`` (V,), ``cells`` (C, V); ``cell`` (E,) of each entry)
        on these rows, from its (cell, label) groups: equal to scoring its N x V forecast.
        """
        v = never.size
        flat = cell * v + self.entries.label
        n = np.bincount(flat, minlength=cells.size)
        k = np.bincount(flat, weights=self.positive, minlength=cells.size).astype(np.int64)
        never_n = self.n_rows - self.label_entries
        never_k = self.label_positives - np.bincount(self.entries.label, weights=self.positive, minlength=v).astype(np.int64)
        scores = np.concatenate([cells.ravel(), never])
        value = micro_from_groups(scores, np.concatenate([k, never_k]), np.concatenate([n - k, never_n - never_k]))[1]
        return float(value) if np.isfinite(value) else float("-inf")


class RepeatTableForecaster:
    """Per-label rates over recency / frequency cells of the label's own history (module docstring).

    Args:
        scheme: a key of ``SCHEMES`` or ``"auto"`` (chosen on the tuning split).
        smoothing: pseudo-rows of the pooled cell rate added to each label's cell; None: chosen on
            the tuning split from ``SMOOTHING_GRID``.
    """

    def __init__(self, scheme: str = "auto", smoothing: float | None = None) -> None:
        if scheme != "auto" and scheme not in SCHEMES:
            raise ValueError(f"scheme must be auto or one of {', '.join(SCHEMES)}; got {scheme!r}")
        if smoothing is not None and not smoothing >= 0:
            raise ValueError(f"smoothing must be >= 0 or null; got {smoothing!r}")
        self.scheme = scheme
        self.smoothing = smoothing
        self.scheme_: str | None = None
        self.smoothing_: float | None = None
        self.never_: np.ndarray | None = None  # (V,)
        self.cells_: np.ndarray | None = None  # (C, V)
        self.selection_: list[dict[str, Any]] = []

    # -- fitting ---------------------------------------------------------------------------------
    @staticmethod
    def _cell(entries: HistoryEntries, scheme: str) -> np.ndarray:
        rec_edges, cnt_edges = SCHEMES[scheme]
        return _bins(entries.recency, rec_edges) * len(cnt_edges) + _bins(entries.count, cnt_edges)

    def _tables(self, train: Histories, ent: HistoryEntries, pos: np.ndarray, scheme: str, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
        v = train.num_labels
        n_cells = len(SCHEMES[scheme][0]) * len(SCHEMES[scheme][1])
        cell = self._cell(ent, scheme)
        flat = cell * v + ent.label
        n = np.bincount(flat, minlength=n_cells * v).reshape(n_cells, v).astype(np.float64)
        k = np.bincount(flat, weights=pos, minlength=n_cells * v).reshape(n_cells, v)
        pooled = k.sum(1, keepdims=True) / np.maximum(n.sum(1, keepdims=True), 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            cells = np.where(n + smoothing > 0, (k + smoothing * pooled) / (n + smoothing), pooled)
        # Never coded: the label's rows minus its history rows.
        indptr, cols = train.targets()
        rows = float(len(train))
        all_pos = np.bincount(cols, minlength=v).astype(np.float64)
        hist_rows = np.bincount(ent.label, minlength=v).astype(np.float64)
        never_pos = all_pos - np.bincount(ent.label, weights=pos, minlength=v)
        never_n = rows - hist_rows
        pooled_never = never_pos.sum() / max(never_n.sum(), 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            never = np.where(never_n + smoothing > 0, (never_pos + smoothing * pooled_never) / (never_n + smoothing), pooled_never)
        return never.astype(np.float32), cells.astype(np.float32)

    def fit(self, train: Histories, tuning: Histories | None = None) -> RepeatTableForecaster:
        ent = train.entries()
        pos = train.next_positive(ent).astype(np.float64)
        schemes = list(SCHEMES) if self.scheme == "auto" else [self.scheme]
        smoothings = list(SMOOTHING_GRID) if self.smoothing is None else [self.smoothing]
        candidates = [(s, m) for s in schemes for m in smoothings]
        if len(candidates) > 1 and tuning is None:
            raise ValueError("repeat_table with scheme auto or smoothing null chooses on the tuning split; none was given")
        counts = _TuningCounts.of(tuning) if tuning is not None and len(candidates) > 1 else None
        best: tuple[float, str, float, np.ndarray, np.ndarray] | None = None
        for scheme, smoothing in candidates:
            never, cells = self._tables(train, ent, pos, scheme, smoothing)
            score = float("nan")
            if counts is not None:
                score = counts.micro_auprc(self._cell(counts.entries, scheme), never, cells)
                self.selection_.append({"scheme": scheme, "smoothing": smoothing, "tuning_auprc_micro": score})
            if best is None or score > best[0]:
                best = (score, scheme, smoothing, never, cells)
        assert best is not None
        _, self.scheme_, self.smoothing_, self.never_, self.cells_ = best
        return self

    # -- prediction ------------------------------------------------------------------------------
    def _apply(self, h: Histories, ent: HistoryEntries, scheme: str, never: np.ndarray, cells: np.ndarray) -> np.ndarray:
        out = np.broadcast_to(never, (len(h), h.num_labels)).copy()
        out[ent.row, ent.label] = cells[self._cell(ent, scheme), ent.label]
        return out

    def predict_proba(self, h: Histories) -> np.ndarray:
        assert self.never_ is not None and self.cells_ is not None and self.scheme_ is not None, "fit first"
        return self._apply(h, h.entries(), self.scheme_, self.never_, self.cells_)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "smoothing": self.smoothing,
            "scheme_": self.scheme_,
            "smoothing_": self.smoothing_,
            "never": None if self.never_ is None else self.never_.tolist(),
            "cells": None if self.cells_ is None else self.cells_.tolist(),
            "selection": self.selection_,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> RepeatTableForecaster:
        out = cls(state["scheme"], state["smoothing"])
        out.scheme_, out.smoothing_ = state["scheme_"], state["smoothing_"]
        out.never_ = np.asarray(state["never"], dtype=np.float32)
        out.cells_ = np.asarray(state["cells"], dtype=np.float32)
        out.selection_ = list(state.get("selection", []))
        return out


# Age bands of :class:`GroupTableForecaster` (years; NaN ages form their own band).
AGE_EDGES = (18.0, 45.0, 65.0, 80.0)
GROUP_SMOOTHING_GRID = (1.0, 3.0, 10.0, 30.0)
# Tuning rows scored per candidate when choosing the smoothing (the first patients' rows).
_TUNING_ROWS = 20_000


def row_groups(h: Histories) -> np.ndarray:
    """(N,) group of each row: sex (0 unknown, 1 female, 2 male) x age band at the row's visit."""
    age = h.age[h.rows].astype(np.float64)
    band = np.where(np.isnan(age), len(AGE_EDGES) + 1, np.searchsorted(np.asarray(AGE_EDGES), np.nan_to_num(age), side="right"))
    sex = np.clip(h.sex[h.row_patient], 0, 2)
    return (sex * (len(AGE_EDGES) + 2) + band).astype(np.int64)


N_GROUPS = 3 * (len(AGE_EDGES) + 2)


class GroupTableForecaster:
    """[ours] The repeat table recalibrated per (sex, age band): each label's forecast on repeat
    entries and on never-coded entries is multiplied by ``(K + a) / (E + a)``, K the training
    positives of the label in that group and kind, E the table's expected count there; ``a``
    (pseudo-positives) is chosen on the tuning split among ``GROUP_SMOOTHING_GRID`` and no
    recalibration. The table's own settings are chosen on tuning as ``repeat_table``'s.

    Args:
        smoothing: ``a``, or None (chosen on the tuning split; ``inf`` = the table unchanged).
    """

    def __init__(self, smoothing: float | None = None) -> None:
        if smoothing is not None and not smoothing > 0:
            raise ValueError(f"smoothing must be > 0 (inf: no recalibration) or null; got {smoothing!r}")
        self.smoothing = smoothing
        self.table_ = RepeatTableForecaster()
        self.smoothing_: float | None = None
        self.factor_: np.ndarray | None = None  # (groups, 2 kinds, V): 0 never coded, 1 repeat
        self.selection_: list[dict[str, Any]] = []

    def _counts(self, h: Histories) -> tuple[np.ndarray, np.ndarray]:
        """(E, K): the table's expected and the realised positives per (group, kind, label)."""
        table = self.table_
        assert table.never_ is not None and table.cells_ is not None and table.scheme_ is not None
        v, g = h.num_labels, row_groups(h)
        ent = h.entries()
        expected = np.zeros((N_GROUPS, 2, v))
        realised = np.zeros((N_GROUPS, 2, v))
        rows_per_group = np.bincount(g, minlength=N_GROUPS).astype(np.float64)
        hist_per_group = np.bincount(g[ent.row] * v + ent.label, minlength=N_GROUPS * v).reshape(N_GROUPS, v)
        expected[:, 0] = (rows_per_group[:, None] - hist_per_group) * table.never_[None, :]
        rep = table.cells_[table._cell(ent, table.scheme_), ent.label].astype(np.float64)
        expected[:, 1] = np.bincount(g[ent.row] * v + ent.label, weights=rep, minlength=N_GROUPS * v).reshape(N_GROUPS, v)
        pos = h.next_positive(ent).astype(np.float64)
        rep_pos = np.bincount(g[ent.row] * v + ent.label, weights=pos, minlength=N_GROUPS * v).reshape(N_GROUPS, v)
        indptr, cols = h.targets()
        t_rows = np.repeat(np.arange(len(h), dtype=np.int64), np.diff(indptr))
        all_pos = np.bincount(g[t_rows] * v + cols, minlength=N_GROUPS * v).reshape(N_GROUPS, v)
        realised[:, 0] = all_pos - rep_pos
        realised[:, 1] = rep_pos
        return expected, realised

    def fit(self, train: Histories, tuning: Histories | None = None) -> GroupTableForecaster:
        if self.smoothing is None and tuning is None:
            raise ValueError("group_table with smoothing null chooses on the tuning split; none was given")
        self.table_.fit(train, tuning)
        expected, realised = self._counts(train)
        grid = [self.smoothing] if self.smoothing is not None else [*GROUP_SMOOTHING_GRID, float("inf")]
        best: tuple[float, float, np.ndarray] | None = None
        if len(grid) > 1:
            assert tuning is not None
            part = _first_rows(tuning, _TUNING_ROWS)
            y = part.target_matrix()
            base = self.table_.predict_proba(part)
        for a in grid:
            factor = np.ones_like(expected) if not np.isfinite(a) else (realised + a) / (expected + a)
            score = float("nan")
            if len(grid) > 1:
                score = micro_auprc(self._scale(base, part, factor), y)
                self.selection_.append({"smoothing": a, "tuning_auprc_micro": score})
            if best is None or score > best[0]:
                best = (score, a, factor)
        assert best is not None
        _, self.smoothing_, factor = best
        self.factor_ = factor.astype(np.float32)
        return self

    @staticmethod
    def _scale(base: np.ndarray, h: Histories, factor: np.ndarray) -> np.ndarray:
        g = row_groups(h)
        out = base * factor[g, 0, :]
        ent = h.entries()
        out[ent.row, ent.label] = base[ent.row, ent.label] * factor[g[ent.row], 1, ent.label]
        return np.clip(out, 0.0, 1.0)

    def predict_proba(self, h: Histories) -> np.ndarray:
        assert self.factor_ is not None, "fit first"
        return self._scale(self.table_.predict_proba(h), h, self.factor_).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "smoothing": self.smoothing,
            "smoothing_": self.smoothing_,
            "table": self.table_.to_dict(),
            "factor": None if self.factor_ is None else self.factor_.tolist(),
            "selection": self.selection_,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> GroupTableForecaster:
        out = cls(state["smoothing"])
        out.smoothing_ = state["smoothing_"]
        out.table_ = RepeatTableForecaster.from_dict(state["table"])
        out.factor_ = np.asarray(state["factor"], dtype=np.float32)
        out.selection_ = list(state.get("selection", []))
        return out


def _first_rows(h: Histories, n_rows: int) -> Histories:
    """The rows of the first patients of ``h`` up to about ``n_rows`` rows (all of them when fewer)."""
    if len(h) <= n_rows:
        return h
    per_patient = np.bincount(h.row_patient, minlength=h.n_patients)
    keep = int(np.searchsorted(np.cumsum(per_patient), n_rows, side="right")) + 1
    return h.first_patients(keep)
