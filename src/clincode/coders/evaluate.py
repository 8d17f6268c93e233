"""CodiEsp's official MAP for a score matrix: all gold codes, first 1,000 ranked codes per document."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clincode.metrics.codiesp import average_precision_all_gold

OFFICIAL_TOP = 1000


def gold_matrix(gold: Sequence[Sequence[str]], label_codes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Targets [n_docs, n_labels] in {0, 1} and the number of gold codes per document (all of them)."""
    index = {c: i for i, c in enumerate(label_codes)}
    targets = np.zeros((len(gold), len(label_codes)), dtype=np.int8)
    for d, codes in enumerate(gold):
        for c in codes:
            if c in index:
                targets[d, index[c]] = 1
    return targets, np.array([len(set(g)) for g in gold], dtype=np.int64)


def codiesp_map(
    scores: np.ndarray, label_codes: Sequence[str], gold: Sequence[Sequence[str]], top: int = OFFICIAL_TOP
) -> float:
    """Mean over documents with gold codes of AP over ALL their gold codes, ranking cut at ``top``.

    A gold code outside ``label_codes`` or ranked beyond ``top`` is never retrieved but still
    counts in the denominator, as in the CLEF eHealth 2020 evaluation script.
    """
    targets, n_gold = gold_matrix(gold, label_codes)
    order = np.argsort(-scores, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(scores.shape[1]), order.shape), axis=1)
    ap = average_precision_all_gold(scores, targets * (rank < top), n_gold)
    return float(np.nanmean(ap))
