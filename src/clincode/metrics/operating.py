"""Operating points that compare losses at equal alert volume or at equal recall [ours].

A tuned threshold puts every loss at its own recall, so precision and alerts per visit are not
comparable across losses. Two rules fix one side of the trade-off (docs/methods.md section 5.5):

- **Alert budget B** (``budget@B``): every row alerts on its B highest-scored valid labels (all of
  them when it has fewer than B valid labels). Ties go to the lower label index. Alerts per row are
  then (almost) equal for every model, and precision and recall say which alerts are better.
- **Fixed recall r** (``recall@r``): the *largest* global threshold whose micro recall is at
  least r, i.e. the score of the ``ceil(r P)``-th highest positive (P valid positives); the rule
  ``prob >= threshold`` then has recall >= r (exactly r up to ties and rounding) with the fewest
  alerts any global threshold can give. It is read off the evaluated split itself: a point of the
  precision-recall curve, not a tuned rule.

Both report micro precision / recall / F1 and alerts per valid row (rows with no valid entry are
not counted).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from clincode.metrics._inputs import CHUNK_ENTRIES, take_block
from clincode.metrics.decision import _decision_counts, as_thresholds


def _micro(tp: int, pp: int, pos: int, n_rows: int) -> dict[str, float]:
    return {
        "precision_micro": tp / pp if pp else 0.0,
        "recall_micro": tp / pos if pos else 0.0,
        "f1_micro": 2 * tp / (pp + pos) if pp + pos else 0.0,
        "alert_volume": pp / n_rows if n_rows else 0.0,
    }


def check_budgets(budgets: Sequence[int]) -> tuple[int, ...]:
    out = tuple(budgets)
    if any(isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1 for b in out):
        raise ValueError(f"alert budgets must be integers >= 1; got {list(budgets)!r}")
    return tuple(int(b) for b in out)


def check_recalls(recalls: Sequence[float]) -> tuple[float, ...]:
    out = tuple(float(r) for r in recalls)
    if any(not (0.0 < r <= 1.0) for r in out):
        raise ValueError(f"recall targets must lie in (0, 1]; got {list(recalls)!r}")
    return out


def budget_point(probs: np.ndarray, targets: np.ndarray, budget: int, cols: np.ndarray) -> dict[str, Any]:
    """Micro P / R / F1 and alerts per row when each row alerts on its ``budget`` top valid labels."""
    n = probs.shape[0]
    tp = pp = pos = n_rows = 0
    step = max(1, CHUNK_ENTRIES // max(cols.size, 1))
    for r0 in range(0, n, step):
        sl = slice(r0, r0 + step)
        t = take_block(targets, sl, cols)
        p = take_block(probs, sl, cols).astype(np.float64)
        valid = t != -1
        score = np.where(valid, p, -np.inf)
        k = min(budget, cols.size)
        top = np.argsort(-score, axis=1, kind="stable")[:, :k]  # ties: lower label index first
        chosen_valid = np.take_along_axis(valid, top, axis=1)
        chosen_gold = np.take_along_axis(t == 1, top, axis=1) & chosen_valid
        tp += int(chosen_gold.sum())
        pp += int(chosen_valid.sum())
        pos += int((t == 1).sum())
        n_rows += int(valid.any(axis=1).sum())
    return {"budget": budget, **_micro(tp, pp, pos, n_rows)}


def recall_threshold(probs: np.ndarray, targets: np.ndarray, recall: float, cols: np.ndarray) -> float | None:
    """The largest threshold t with micro recall of ``prob >= t`` at least ``recall`` (None: no positive)."""
    n = probs.shape[0]
    scores = []
    step = max(1, CHUNK_ENTRIES // max(cols.size, 1))
    for r0 in range(0, n, step):
        sl = slice(r0, r0 + step)
        t = take_block(targets, sl, cols)
        scores.append(take_block(probs, sl, cols)[t == 1].astype(np.float64))
    pos = np.concatenate(scores) if scores else np.zeros(0)
    if pos.size == 0:
        return None
    needed = max(1, math.ceil(recall * pos.size - 1e-9))
    return float(np.sort(pos)[::-1][needed - 1])


def recall_point(probs: np.ndarray, targets: np.ndarray, recall: float, cols: np.ndarray) -> dict[str, Any]:
    """Micro P / R / F1 and alerts per row at :func:`recall_threshold`."""
    thr = recall_threshold(probs, targets, recall, cols)
    if thr is None:
        return {"target_recall": recall, "threshold": None, **_micro(0, 0, 0, 0)}
    counts = _decision_counts(probs, targets, as_thresholds(thr, cols.size), cols)
    tp, pp, pos = int(counts.tp_label.sum()), int(counts.pp_label.sum()), int(counts.pos_label.sum())
    return {"target_recall": recall, "threshold": thr, **_micro(tp, pp, pos, counts.n_valid_rows)}


def operating_points(
    probs: np.ndarray,
    targets: np.ndarray,
    cols: np.ndarray,
    budgets: Sequence[int] = (3,),
    recalls: Sequence[float] = (0.2, 0.3, 0.4),
) -> dict[str, dict[str, Any]]:
    """``{"budget@3": {...}, "recall@0.3": {...}, ...}`` (see the module docstring)."""
    out: dict[str, dict[str, Any]] = {}
    for b in check_budgets(budgets):
        out[f"budget@{b}"] = budget_point(probs, targets, b, cols)
    for r in check_recalls(recalls):
        out[f"recall@{r:g}"] = recall_point(probs, targets, r, cols)
    return out
