"""Exact AUROC and AUPRC (average precision), per label and micro, on masked multi-label data.

Definitions (docs/methods.md section 5.1), identical to scikit-learn's on the valid entries:

- AUROC = P(score of a positive > score of a negative) + 0.5 P(tie): the Mann-Whitney form,
  equal to ``roc_auc_score`` (trapezoidal ROC, ties on a diagonal segment).
- AUPRC = average precision ``sum_n (R_n - R_{n-1}) P_n`` over the distinct scores taken as
  thresholds (``score >= t`` is positive), equal to ``average_precision_score`` (no interpolation).
  Each positive contributes ``precision(>= its score) / n_pos``, ties included in the precision.
- Micro: all valid entries of all labels flattened into one binary problem.
- Macro: mean over the labels with at least one valid positive *and* one valid negative; the
  others are reported as skipped (AUPRC uses the same label set so the two are comparable).

Complexity: one sort of the negatives per label block plus lock-step binary searches of the
positives (see ``_sweep``); no per-label Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clincode.metrics._inputs import check_probs_targets, resolve_cols
from clincode.metrics._sweep import Positives, collect_positives, count_negatives


@dataclass(frozen=True)
class RankingResult:
    """Per-label and micro ranking metrics over the label columns ``cols``.

    Attributes:
        auroc, auprc: float64 ``(L,)``; NaN for labels without both a positive and a negative.
        n_pos, n_neg: int64 ``(L,)`` valid positives / negatives per label.
        auroc_micro, auprc_micro: float (NaN when no positive or no negative at all).
    """

    auroc: np.ndarray
    auprc: np.ndarray
    n_pos: np.ndarray
    n_neg: np.ndarray
    auroc_micro: float
    auprc_micro: float

    @property
    def macro_mask(self) -> np.ndarray:
        """bool ``(L,)``: labels entering the macro averages."""
        return (self.n_pos > 0) & (self.n_neg > 0)

    def summary(self) -> dict[str, float | int | None]:
        """The ``ranking`` section of ``evaluate``'s output."""
        used = self.macro_mask
        return {
            "auroc_micro": _num(self.auroc_micro),
            "auroc_macro": _num(float(self.auroc[used].mean())) if used.any() else None,
            "auprc_micro": _num(self.auprc_micro),
            "auprc_macro": _num(float(self.auprc[used].mean())) if used.any() else None,
            "macro_labels_used": int(used.sum()),
            "macro_labels_skipped": int((~used).sum()),
        }


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def ranking_from_counts(
    pos: Positives,
    n_neg: np.ndarray,
    lt: np.ndarray,
    le: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-label AUROC and AUPRC from each positive's negative counts.

    Args:
        pos: the positives, sorted by (label, score).
        n_neg: int64 ``(L,)`` negatives per label.
        lt, le: int64 ``(P,)`` negatives of the positive's label scoring ``<`` / ``<=`` it.

    Returns:
        ``(auroc, auprc)`` float64 ``(L,)``, NaN where a label lacks a positive or a negative.
    """
    n_labels = n_neg.size
    n_pos = pos.n_per_label
    # Mann-Whitney with half credit for ties: sum over positives of (#below + #tied / 2).
    # lt + le = 2 * #below + #tied is an exact integer; the division happens once per label.
    auc_num = np.bincount(pos.label, weights=(lt + le).astype(np.float64), minlength=n_labels)
    tp_ge = pos.count_ge
    fp_ge = n_neg[pos.label] - lt
    precision = tp_ge / np.maximum(tp_ge + fp_ge, 1)
    ap_num = np.bincount(pos.label, weights=precision, minlength=n_labels)
    ok = (n_pos > 0) & (n_neg > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        auroc = np.where(ok, auc_num / (2.0 * n_pos * n_neg), np.nan)
        auprc = np.where(ok, ap_num / n_pos, np.nan)
    return auroc, auprc


def micro_from_counts(
    values: np.ndarray, counts: np.ndarray, n_neg_total: int, g_lt: np.ndarray, g_le: np.ndarray
) -> tuple[float, float]:
    """Micro AUROC and AUPRC from the distinct positive scores.

    Args:
        values: ``(U,)`` distinct positive scores, ascending (only their order matters here).
        counts: int64 ``(U,)`` positives at each distinct score.
        n_neg_total: all valid negatives.
        g_lt, g_le: int64 ``(U,)`` negatives scoring ``<`` / ``<=`` each distinct score.
    """
    n_pos = int(counts.sum())
    if n_pos == 0 or n_neg_total == 0:
        return float("nan"), float("nan")
    auroc = float((counts * (g_lt + g_le)).sum()) / (2.0 * n_pos * n_neg_total)
    tp_ge = n_pos - (np.cumsum(counts) - counts)
    fp_ge = n_neg_total - g_lt
    auprc = float((counts * (tp_ge / (tp_ge + fp_ge))).sum()) / n_pos
    return auroc, auprc


def micro_from_groups(scores: np.ndarray, n_pos: np.ndarray, n_neg: np.ndarray) -> tuple[float, float]:
    """Micro ``(AUROC, AUPRC)`` of entries given as groups that share one score.

    Group g holds ``n_pos[g]`` positives and ``n_neg[g]`` negatives, all scored ``scores[g]``
    (several groups may share a score). Equal to :func:`ranking_metrics`' micro values on the
    matrix the groups describe, in time linear in the groups: a forecaster whose scores are a
    lookup table is scored on its cells, not on its N x V matrix.
    """
    u, inv = np.unique(np.asarray(scores), return_inverse=True)
    pos = np.bincount(inv.ravel(), weights=np.asarray(n_pos, dtype=np.float64), minlength=u.size).astype(np.int64)
    neg = np.bincount(inv.ravel(), weights=np.asarray(n_neg, dtype=np.float64), minlength=u.size).astype(np.int64)
    le = np.cumsum(neg)
    has = pos > 0
    return micro_from_counts(u[has], pos[has], int(neg.sum()), (le - neg)[has], le[has])


def ranking_metrics(probs: np.ndarray, targets: np.ndarray, cols: np.ndarray | None = None) -> RankingResult:
    """Exact per-label and micro AUROC / AUPRC over the label columns ``cols`` (None: all).

    Args:
        probs: float ``(N, V)`` probabilities.
        targets: int ``(N, V)`` in {1, 0, -1}; -1 entries are ignored.
        cols: optional int ``(L,)`` label columns.
    """
    probs, targets = check_probs_targets(probs, targets)
    cols = resolve_cols(cols, probs.shape[1])
    return _ranking(probs, targets, cols)


def _ranking(probs: np.ndarray, targets: np.ndarray, cols: np.ndarray) -> RankingResult:
    pos = collect_positives(probs, targets, cols)
    u, u_counts = np.unique(pos.value, return_counts=True)
    neg = count_negatives(probs, targets, cols, pos.label, pos.value, u)
    auroc, auprc = ranking_from_counts(pos, neg.n_neg, neg.lt, neg.le)
    auroc_micro, auprc_micro = micro_from_counts(u, u_counts, int(neg.n_neg.sum()), neg.global_lt, neg.global_le)
    return RankingResult(
        auroc=auroc,
        auprc=auprc,
        n_pos=pos.n_per_label,
        n_neg=neg.n_neg,
        auroc_micro=auroc_micro,
        auprc_micro=auprc_micro,
    )
