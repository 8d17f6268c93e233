"""Bootstrap confidence intervals, resampling patients (or documents) with replacement.

A resample draws G groups with replacement out of the G groups that own at least one valid row;
each row then counts as many times as its group was drawn (a weight ``w``). Every metric of the
resample is exactly the metric recomputed on the resampled rows, computed cheaply:

- row-decomposable metrics (P@k, R@k, MAP, alert volume, micro P/R/F1) are weighted sums of
  per-row values computed once;
- macro P/R/F1 need per-label weighted counts: ``W @ indicator`` products over row blocks
  (sparse or dense, whichever is cheaper for the block);
- AUROC / AUPRC (micro and macro) use the exact binned form of ``_intervals``.

The interval is the percentile interval of the replicates at level ``ci`` (NaN replicates,
e.g. a macro average with no usable label, are left out).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from clincode.metrics._inputs import CHUNK_ENTRIES, take_block
from clincode.metrics._intervals import build_problems
from clincode.metrics.at_k import RowRanking
from clincode.metrics.decision import predicted, prf

# Above this density a block's indicator is multiplied densely (BLAS) rather than as sparse.
DENSE_FRACTION = 0.02


def group_index(groups: np.ndarray | None, row_valid: np.ndarray) -> tuple[np.ndarray, int]:
    """Contiguous group ids ``(N,)`` for valid rows (-1 for dropped rows) and the group count.

    Without ``groups`` each valid row is its own group.
    """
    ids = np.full(row_valid.size, -1, dtype=np.int64)
    if groups is None:
        ids[row_valid] = np.arange(int(row_valid.sum()))
    else:
        _, inv = np.unique(groups[row_valid], return_inverse=True)
        ids[row_valid] = inv
    n_groups = int(ids.max()) + 1 if ids.size else 0
    return ids, n_groups


def resample_weights(group_ids: np.ndarray, n_groups: int, n_resamples: int, seed: int) -> np.ndarray:
    """float32 ``(B, N)`` row multiplicities of ``n_resamples`` group resamples (dropped rows: 0)."""
    rng = np.random.default_rng(seed)
    weights = np.zeros((n_resamples, group_ids.size), dtype=np.float32)
    valid = group_ids >= 0
    for b in range(n_resamples):
        draws = rng.integers(0, n_groups, size=n_groups)
        mult = np.bincount(draws, minlength=n_groups).astype(np.float32)
        weights[b, valid] = mult[group_ids[valid]]
    return weights


def weighted_label_counts(
    probs: np.ndarray,
    targets: np.ndarray,
    cols: np.ndarray,
    thresholds: list[np.ndarray],
    weights: np.ndarray,
    dense_fraction: float = DENSE_FRACTION,
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Per-label weighted positives and, for each threshold vector, true / predicted positives.

    Args:
        probs, targets: ``(N, V)`` checked inputs.
        cols: int64 ``(L,)`` label columns.
        thresholds: list of float64 ``(L,)`` decision thresholds (``prob >= t``).
        weights: float32 ``(B, N)`` row weights.
        dense_fraction: blocks denser than this use a dense product.

    Returns:
        ``(pos (B, L), [(tp (B, L), pp (B, L)) per threshold vector])`` float64.
    """
    n = probs.shape[0]
    b = weights.shape[0]
    n_labels = cols.size
    pos = np.zeros((b, n_labels))
    per_rule = [(np.zeros((b, n_labels)), np.zeros((b, n_labels))) for _ in thresholds]
    step = max(1, CHUNK_ENTRIES // max(n_labels, 1))
    for r0 in range(0, n, step):
        sl = slice(r0, min(r0 + step, n))
        w = weights[:, sl]
        t = take_block(targets, sl, cols)
        x = take_block(probs, sl, cols)
        gold = t == 1
        pos += _wsum(w, gold, dense_fraction)
        for thr, (tp, pp) in zip(thresholds, per_rule, strict=True):
            pred = predicted(x, t, thr)
            tp += _wsum(w, pred & gold, dense_fraction)
            pp += _wsum(w, pred, dense_fraction)
    return pos, per_rule


def _wsum(w: np.ndarray, mask: np.ndarray, dense_fraction: float) -> np.ndarray:
    """``w (B, n) @ mask (n, L)`` as float64, sparse when the mask is sparse."""
    if mask.mean() > dense_fraction:
        return (w @ mask.astype(np.float32)).astype(np.float64)
    r, c = np.nonzero(mask)
    m = sp.csr_matrix((np.ones(r.size, np.float32), (c, r)), shape=(mask.shape[1], mask.shape[0]))
    return np.asarray(m @ np.ascontiguousarray(w.T), dtype=np.float64).T


def percentile_interval(replicates: np.ndarray, level: float) -> tuple[float, float] | None:
    """Percentile interval of the finite replicates at ``level`` (None if there are none)."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return None
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def replicate_metrics(
    probs: np.ndarray,
    targets: np.ndarray,
    cols: np.ndarray,
    rows: RowRanking,
    rules: dict[str, np.ndarray],
    pp_row: dict[str, np.ndarray],
    weights: np.ndarray,
    with_ranking: bool = True,
    batch_bytes: int = 256 * 2**20,
) -> dict[str, np.ndarray]:
    """Every main metric under each row-weight vector: ``{metric path: (B,) replicates}``.

    Args:
        probs, targets: ``(N, V)`` checked inputs.
        cols: int64 ``(L,)`` label columns.
        rows: per-row retrieval statistics over ``cols``.
        rules: rule name -> float64 ``(L,)`` thresholds.
        pp_row: rule name -> int ``(N,)`` predicted positives per row (for alert volume).
        weights: float32 ``(B, N)`` row weights (ones: the point estimate, exactly).
        with_ranking: also AUROC / AUPRC (the costly part).
        batch_bytes: memory budget of one batch of resamples in the ranking step.

    Returns:
        paths as in ``evaluate``'s output ("ranking.auroc_micro", "at_k.p@5", "map",
        "rules.global.f1_micro", ...).
    """
    out: dict[str, np.ndarray] = {}
    for key, val in rows.weighted(weights).items():
        out["map" if key == "map" else f"at_k.{key}"] = val
    valid_rows = (rows.n_valid > 0).astype(np.float64)
    n_rows = weights @ valid_rows
    names = list(rules)
    pos, per_rule = weighted_label_counts(probs, targets, cols, [rules[r] for r in names], weights)
    for name, (tp, pp) in zip(names, per_rule, strict=True):
        for key, val in prf(tp, pp, pos).items():
            out[f"rules.{name}.{key}"] = val
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"rules.{name}.alert_volume"] = (weights @ pp_row[name].astype(np.float64)) / n_rows
    if with_ranking:
        out.update(_ranking_replicates(probs, targets, cols, weights, batch_bytes))
    return out


def _ranking_replicates(
    probs: np.ndarray, targets: np.ndarray, cols: np.ndarray, weights: np.ndarray, batch_bytes: int
) -> dict[str, np.ndarray]:
    blocks, micro = build_problems(probs, targets, cols)
    n_res = weights.shape[0]
    widest = max([micro.n_bins] + [p.n_bins for p in blocks])
    # A few float64 (bins, batch) temporaries live at once in IntervalProblem.weighted.
    batch = int(max(1, min(n_res, batch_bytes // (8 * 4 * max(widest, 1)))))
    keys = ("auroc_micro", "auprc_micro", "auroc_macro", "auprc_macro")
    res = {k: np.full(n_res, np.nan) for k in keys}
    for b0 in range(0, n_res, batch):
        wt = np.ascontiguousarray(weights[b0 : b0 + batch].T)  # (N, b)
        au, ap = micro.weighted(wt)
        res["auroc_micro"][b0 : b0 + batch] = au[:, 0]
        res["auprc_micro"][b0 : b0 + batch] = ap[:, 0]
        if blocks:
            per = [p.weighted(wt) for p in blocks]
            au_l = np.concatenate([a for a, _ in per], axis=1)  # (b, labels with positives)
            ap_l = np.concatenate([a for _, a in per], axis=1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN resample: macro is NaN
                res["auroc_macro"][b0 : b0 + batch] = np.nanmean(au_l, axis=1)
                res["auprc_macro"][b0 : b0 + batch] = np.nanmean(ap_l, axis=1)
    return {f"ranking.{k}": v for k, v in res.items()}
