"""Per-run material for reports and audits, written next to ``metrics.json``.

- ``curves.json``: the micro precision-recall curve of the held-out split, thinned to a few hundred
  points, with the alert volume (predicted positives per row) at each threshold, so a report can
  plot precision against recall and alert volume against recall for every loss without rerunning.
- ``per_label.parquet``: one row per label: code, description, training count, held-out
  positives, AUROC, AUPRC, F1 at the tuned global threshold, and mean binary cross-entropy of
  the predictions (the "per-code loss" of the MARN paper's balance plot).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clincode.io import atomic_path, write_json
from clincode.metrics import decision_counts, ranking_metrics

CURVE_POINTS = 300


def micro_curve(probs: np.ndarray, targets: np.ndarray, points: int = CURVE_POINTS) -> dict[str, list[float]]:
    """Micro PR curve over all valid entries, thinned to about ``points`` thresholds.

    Returns threshold, precision, recall and alerts_per_row lists (descending threshold).
    """
    valid = targets != -1
    n_rows = int(valid.any(axis=1).sum())
    scores = probs[valid]
    labels = targets[valid] == 1
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    tp = np.cumsum(labels)
    pp = np.arange(1, len(scores) + 1)
    # last index of each distinct score (a threshold predicts all entries with score >= it)
    last = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]
    n_pos = max(int(labels.sum()), 1)
    # Thin to points spread both along the ranking and evenly in recall, so that the steep
    # high-precision start of the curve is drawn as finely as its long low-precision tail.
    along = np.linspace(0, len(last) - 1, min(points, len(last))).round().astype(int)
    in_recall = np.searchsorted(tp[last] / n_pos, np.linspace(0, 1, points)).clip(0, len(last) - 1)
    pick = last[np.unique(np.concatenate([along, in_recall]))]
    return {
        "threshold": scores[pick].astype(float).tolist(),
        "precision": (tp[pick] / pp[pick]).astype(float).tolist(),
        "recall": (tp[pick] / n_pos).astype(float).tolist(),
        "alerts_per_row": (pp[pick] / max(n_rows, 1)).astype(float).tolist(),
    }


def per_label_table(
    probs: np.ndarray,
    targets: np.ndarray,
    codes: list[str],
    descriptions: list[str],
    train_counts: np.ndarray,
    threshold: float,
) -> pl.DataFrame:
    rank = ranking_metrics(probs, targets)
    dec = decision_counts(probs, targets, threshold)
    valid = targets != -1
    p = np.clip(probs.astype(np.float64), 1e-7, 1 - 1e-7)
    bce = -np.where(targets == 1, np.log(p), np.log1p(-p))
    n_valid = valid.sum(axis=0)
    mean_bce = np.where(n_valid > 0, (bce * valid).sum(axis=0) / np.maximum(n_valid, 1), np.nan)
    tp, pp, pos = dec.tp_label, dec.pp_label, dec.pos_label
    f1 = np.where(pp + pos > 0, 2 * tp / np.maximum(pp + pos, 1), 0.0)
    return pl.DataFrame(
        {
            "code": codes,
            "description": descriptions,
            "train_count": np.asarray(train_counts, dtype=np.int64),
            "test_positives": rank.n_pos.astype(np.int64),
            "auroc": rank.auroc,
            "auprc": rank.auprc,
            "f1_global": f1,
            "mean_bce": mean_bce,
        }
    )


def write_extras(run_dir: Path, probs: np.ndarray, targets: np.ndarray, label_space: Any, threshold: float, suffix: str = "") -> None:
    write_json(Path(run_dir) / f"curves{suffix}.json", {"micro": micro_curve(probs, targets)})
    table = per_label_table(
        probs, targets, list(label_space.codes_), label_space.descriptions(), np.asarray(label_space.counts_), threshold
    )
    with atomic_path(Path(run_dir) / f"per_label{suffix}.parquet") as tmp:
        table.write_parquet(tmp)
