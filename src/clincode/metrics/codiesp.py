"""Text-coding extras for ``metrics.json``: MAP over every gold code, as CodiEsp scores it.

The shared metrics (``clincode.metrics.evaluate``) score the label space only: a gold code never
seen in training is not a column, so it drops out of both the ranking and the denominator, which
flatters MAP. CodiEsp's official MAP divides each document's sum of precisions at the ranks of
retrieved gold codes by ALL its gold codes; a code outside the label space is never retrieved, so

    AP_all(doc) = sum_{gold label l} precision@rank(l) / n_gold_codes(doc)

with the same ranking as the label-space MAP. Documents without any gold code are skipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def average_precision_all_gold(probs: np.ndarray, targets: np.ndarray, n_gold: np.ndarray) -> np.ndarray:
    """Per-row AP over all gold codes: probs [N, V], targets [N, V] in {0, 1}, n_gold [N] (>= row's positives).

    Returns float64 [N]; NaN for rows with ``n_gold == 0``. Ties in probability are ranked by
    label column (stable sort), as in the label-space MAP.
    """
    order = np.argsort(-probs, axis=1, kind="stable")  # (N, V)
    hits = np.take_along_axis(targets == 1, order, axis=1)  # (N, V) gold at each rank
    ranks = np.arange(1, probs.shape[1] + 1)
    precision_at_hits = np.where(hits, np.cumsum(hits, axis=1) / ranks, 0.0).sum(1)
    n_gold = np.asarray(n_gold, dtype=np.float64)
    if (hits.sum(1) > n_gold).any():
        raise ValueError("n_gold must count at least the gold labels of each row (targets == 1)")
    return np.where(n_gold > 0, precision_at_hits / np.maximum(n_gold, 1), np.nan)


def coding_summary(probs: np.ndarray, targets: np.ndarray, doc_index: np.ndarray, table: Any) -> dict[str, Any]:
    """The ``coding`` section of a coding run's metrics (``table``: the split's CodingData table)."""
    n_codes = table["n_codes"].to_numpy()[doc_index]
    n_unseen = table["n_unseen"].to_numpy()[doc_index]
    ap = average_precision_all_gold(probs, targets, n_codes)
    scored = ~np.isnan(ap)
    return {
        "map_all_gold": float(np.mean(ap[scored])) if scored.any() else None,
        "docs": int(len(doc_index)),
        "docs_with_gold": int(scored.sum()),
        "docs_without_label_gold": int(((targets == 1).sum(1) == 0).sum()),
        "gold_codes": int(n_codes.sum()),
        "gold_codes_unseen_in_train": int(n_unseen.sum()),
    }
