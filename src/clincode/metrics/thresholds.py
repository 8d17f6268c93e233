"""Decision thresholds tuned on the validation ("tuning") split, saved with the run.

``ThresholdTuner`` learns

- ``global_threshold_``: the single threshold maximising micro-F1 over all valid entries;
- ``thresholds_`` ``(V,)``: per label, the threshold maximising that label's F1; labels with fewer
  than ``min_positives`` valid validation positives fall back to the global threshold
  (``fallback_mask_``).

Search (default, ``grid=None``): exact. For the rule ``prob >= t`` F1 only changes at attained
scores, and between two consecutive positive scores raising t to the upper one keeps every true
positive and drops false positives, so the maximum over *all* thresholds is attained at the score
of some positive. Every distinct positive score is evaluated with its exact TP / FP counts (one
sort of the negatives per label block, see ``_sweep``), vectorised over labels. With ``grid``
given, only the grid values are candidates (same counting, for comparison with papers that tune
on a grid). Ties between equally good thresholds go to the highest one (fewest alerts).

Never fit on the test split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from clincode.metrics._inputs import check_probs_targets
from clincode.metrics._sweep import collect_positives, count_negatives

_FORMAT = "clincode.ThresholdTuner/1"


class ThresholdTuner:
    """Fit global and per-label F1-optimal thresholds on validation probabilities.

    Args:
        min_positives: labels with fewer valid validation positives than this use the global
            threshold (at least 1 is always required: a label without positives has no F1).
        grid: optional candidate thresholds in [0, 1]; None (default) searches exactly over every
            attained positive score.

    Attributes (after ``fit``):
        global_threshold_: float, micro-F1-optimal threshold.
        global_f1_: float, validation micro-F1 at ``global_threshold_``.
        thresholds_: float64 ``(V,)`` per-label thresholds (``prob >= t`` is positive).
        label_f1_: float64 ``(V,)`` validation F1 of each label at its own threshold (NaN for
            fallback labels).
        fallback_mask_: bool ``(V,)`` labels using the global threshold.
        n_positives_: int64 ``(V,)`` valid validation positives per label.
    """

    def __init__(self, min_positives: int = 5, grid: Sequence[float] | np.ndarray | None = None) -> None:
        if int(min_positives) != min_positives or min_positives < 0:
            raise ValueError(f"min_positives must be a non-negative integer; got {min_positives!r}")
        self.min_positives = int(min_positives)
        if grid is None:
            self.grid: np.ndarray | None = None
        else:
            g = np.unique(np.asarray(grid, dtype=np.float64))
            if g.size == 0 or not np.all(np.isfinite(g)) or g[0] < 0 or g[-1] > 1:
                raise ValueError("grid must be a non-empty list of thresholds in [0, 1]")
            self.grid = g

    # ------------------------------------------------------------------ fitting
    def fit(self, probs: np.ndarray, targets: np.ndarray) -> ThresholdTuner:
        """Tune on validation ``probs`` ``(N, V)`` and ``targets`` ``(N, V)`` in {1, 0, -1}; returns self."""
        probs, targets = check_probs_targets(probs, targets)
        n_labels = probs.shape[1]
        cols = np.arange(n_labels, dtype=np.int64)
        pos = collect_positives(probs, targets, cols)
        n_pos = pos.n_per_label
        if n_pos.sum() == 0:
            raise ValueError("cannot tune thresholds: the validation targets contain no positive entry")
        if self.grid is None:
            u, u_counts = np.unique(pos.value, return_counts=True)
            neg = count_negatives(probs, targets, cols, pos.label, pos.value, u)
            glob, glob_f1 = _best_global(u, u_counts, int(neg.n_neg.sum()), neg.global_lt)
            thr, f1 = _best_per_label_exact(pos.label, pos.value, pos.count_ge, n_pos, neg.n_neg, neg.lt)
        else:
            grid = self.grid
            q_label = np.repeat(cols, grid.size)
            q_value = np.tile(grid, n_labels)  # float64: compared with probs exactly as the rule does
            neg = count_negatives(probs, targets, cols, q_label, q_value, None)
            fp_ge = neg.n_neg[:, None] - neg.lt.reshape(n_labels, grid.size)  # (V, G)
            # Positives at or above each grid value: bucket each positive by the grid values <= it.
            n_below = np.searchsorted(grid, pos.value.astype(np.float64), side="right")  # (P,)
            hist = np.zeros((n_labels, grid.size + 1), np.int64)
            np.add.at(hist, (pos.label, n_below), 1)
            tp_ge = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:]  # (V, G): positives >= grid[i]
            glob, glob_f1 = _best_on_grid(grid, tp_ge.sum(0), fp_ge.sum(0), int(n_pos.sum()))
            f1_grid = _f1(tp_ge, fp_ge, n_pos[:, None])
            best = f1_grid.shape[1] - 1 - np.argmax(f1_grid[:, ::-1], axis=1)  # highest among ties
            thr = grid[best]
            f1 = f1_grid[np.arange(n_labels), best]
        fallback = n_pos < max(self.min_positives, 1)
        self.global_threshold_ = float(glob)
        self.global_f1_ = float(glob_f1)
        self.thresholds_ = np.where(fallback, self.global_threshold_, thr).astype(np.float64)
        self.label_f1_ = np.where(fallback, np.nan, f1).astype(np.float64)
        self.fallback_mask_ = fallback
        self.n_positives_ = n_pos.astype(np.int64)
        return self

    # ---------------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (thresholds as exact float64 decimals)."""
        self._check_fitted()
        return {
            "format": _FORMAT,
            "min_positives": self.min_positives,
            "grid": None if self.grid is None else [float(x) for x in self.grid],
            "global_threshold": self.global_threshold_,
            "global_f1": self.global_f1_,
            "thresholds": [float(x) for x in self.thresholds_],
            "label_f1": [None if np.isnan(x) else float(x) for x in self.label_f1_],
            "fallback_mask": [bool(x) for x in self.fallback_mask_],
            "n_positives": [int(x) for x in self.n_positives_],
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> ThresholdTuner:
        """Rebuild a fitted tuner from :meth:`to_dict` output."""
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"threshold state must be a dict with format {_FORMAT!r}; got {str(state)[:80]!r}")
        try:
            tuner = cls(min_positives=state["min_positives"], grid=state["grid"])
            tuner.global_threshold_ = float(state["global_threshold"])
            tuner.global_f1_ = float(state["global_f1"])
            tuner.thresholds_ = np.asarray(state["thresholds"], dtype=np.float64)
            tuner.label_f1_ = np.asarray([np.nan if x is None else x for x in state["label_f1"]], dtype=np.float64)
            tuner.fallback_mask_ = np.asarray(state["fallback_mask"], dtype=bool)
            tuner.n_positives_ = np.asarray(state["n_positives"], dtype=np.int64)
        except KeyError as err:
            raise ValueError(f"threshold state lacks the field {err.args[0]!r}") from None
        n = tuner.thresholds_.size
        if not (tuner.label_f1_.size == tuner.fallback_mask_.size == tuner.n_positives_.size == n):
            raise ValueError("threshold state fields thresholds / label_f1 / fallback_mask / n_positives differ in length")
        return tuner

    @property
    def n_labels(self) -> int:
        self._check_fitted()
        return int(self.thresholds_.size)

    def _check_fitted(self) -> None:
        if not hasattr(self, "thresholds_"):
            raise ValueError("this ThresholdTuner is not fitted yet; call fit(probs_val, targets_val) first")

    def __repr__(self) -> str:
        state = f", global_threshold_={self.global_threshold_:.4g}" if hasattr(self, "thresholds_") else ""
        grid = "None" if self.grid is None else f"<{self.grid.size} values>"
        return f"ThresholdTuner(min_positives={self.min_positives}, grid={grid}{state})"


def _f1(tp: np.ndarray, fp: np.ndarray, n_pos: np.ndarray | int) -> np.ndarray:
    """F1 = 2TP / (TP + FP + P) (= 2TP / (2TP + FP + FN)), 0 on a zero denominator."""
    den = tp + fp + n_pos
    return np.divide(2.0 * tp, den, out=np.zeros(np.broadcast(tp, den).shape), where=den > 0)


def _best_global(
    u: np.ndarray, u_counts: np.ndarray, n_neg: int, g_lt: np.ndarray
) -> tuple[float, float]:
    """Micro-F1-optimal threshold among the distinct positive scores ``u`` (ascending)."""
    n_pos = int(u_counts.sum())
    tp_ge = n_pos - (np.cumsum(u_counts) - u_counts)
    fp_ge = n_neg - g_lt
    f1 = _f1(tp_ge, fp_ge, n_pos)
    best = f1.size - 1 - int(np.argmax(f1[::-1]))  # highest threshold among ties
    return float(u[best]), float(f1[best])


def _best_on_grid(grid: np.ndarray, tp_ge: np.ndarray, fp_ge: np.ndarray, n_pos: int) -> tuple[float, float]:
    f1 = _f1(tp_ge, fp_ge, n_pos)
    best = f1.size - 1 - int(np.argmax(f1[::-1]))
    return float(grid[best]), float(f1[best])


def _best_per_label_exact(
    label: np.ndarray,
    value: np.ndarray,
    tp_ge: np.ndarray,
    n_pos: np.ndarray,
    n_neg: np.ndarray,
    lt: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-label F1-optimal threshold over each label's positive scores (segmented argmax).

    Args:
        label, value, tp_ge, lt: ``(P,)`` per positive, sorted by (label, value).
        n_pos, n_neg: ``(V,)``.

    Returns:
        ``(thresholds, f1)`` float64 ``(V,)``; NaN for labels without positives.
    """
    n_labels = n_pos.size
    f1 = _f1(tp_ge, n_neg[label] - lt, n_pos[label])
    thr = np.full(n_labels, np.nan)
    best_f1 = np.full(n_labels, np.nan)
    has = n_pos > 0
    if not has.any():
        return thr, best_f1
    starts = np.searchsorted(label, np.flatnonzero(has), side="left")
    seg_max = np.maximum.reduceat(f1, starts)  # (labels with positives,)
    label_max = np.zeros(n_labels)
    label_max[has] = seg_max
    idx = np.arange(f1.size)
    # Scores ascend within a label, so the last maximiser is the highest threshold.
    last = np.maximum.reduceat(np.where(f1 == label_max[label], idx, -1), starts)
    thr[has] = value[last].astype(np.float64)
    best_f1[has] = f1[last]
    return thr, best_f1
