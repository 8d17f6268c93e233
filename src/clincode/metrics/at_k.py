"""Row-wise retrieval metrics: P@k, R@k and MAP (TREC style) on masked multi-label data.

Each row (visit or document) ranks its valid labels by probability; ignored entries (-1) are
never retrieved (their score is taken as -inf). Definitions (docs/methods.md sections 5.2-5.3):

- ``hits@k``: gold labels among the k highest-scoring valid labels. When scores tie across the
  k-th place the expected number of hits under a uniformly random order of the tied labels is
  used: ``gold_above + (k - n_above) * gold_tied / n_tied`` [ours: no arbitrary tie-break, a
  constant model scores its base rate]. Without ties this is the plain count.
- ``P@k = hits@k / k`` (k stays the denominator when a row has fewer than k valid labels);
  averaged over all valid rows, rows without gold included (they score 0).
- ``R@k = hits@k / n_gold``; averaged over rows with at least one gold label (rows without gold
  are excluded: recall is undefined there).
- ``AP`` of a row (TREC / CodiEsp style, the whole ranking of valid labels retrieved): the mean
  over its gold labels g of the precision at g's rank, ``|{gold scoring >= s_g}| / |{valid
  scoring >= s_g}|``; ties count every tied label as ranked above (scikit-learn's
  ``label_ranking_average_precision_score`` convention). ``MAP`` averages AP over rows with gold.

Per-row values are returned so that the bootstrap can re-weight rows without recomputing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from clincode.metrics._inputs import CHUNK_ENTRIES, check_probs_targets, resolve_cols, take_block
from clincode.metrics._search import rowwise_searchsorted


@dataclass(frozen=True)
class RowRanking:
    """Per-row retrieval statistics.

    Attributes:
        ks: the cut-offs.
        hits: float64 ``(len(ks), N)`` expected gold labels in the top k (see module docstring).
        n_gold: int64 ``(N,)`` gold labels per row.
        n_valid: int64 ``(N,)`` non-ignored labels per row (0: row dropped).
        ap: float64 ``(N,)`` average precision per row (NaN without gold).
    """

    ks: tuple[int, ...]
    hits: np.ndarray
    n_gold: np.ndarray
    n_valid: np.ndarray
    ap: np.ndarray

    def weighted(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """P@k, R@k and MAP under row weights.

        Args:
            weights: ``(B, N)`` non-negative row weights (bootstrap multiplicities; ones give the
                point estimate).

        Returns:
            ``{"p@k": (B,), "r@k": (B,), ..., "map": (B,)}`` (NaN where no row qualifies).
        """
        w = np.asarray(weights, dtype=np.float64)
        valid = (self.n_valid > 0).astype(np.float64)
        has_gold = (self.n_gold > 0).astype(np.float64)  # implies valid
        n_rows = w @ valid  # (B,)
        n_gold_rows = w @ has_gold
        recall = self.hits / np.maximum(self.n_gold, 1)  # (K, N); 0 where no gold
        ks = np.asarray(self.ks, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            p_at = (w @ (self.hits * valid).T) / n_rows[:, None] / ks[None, :]  # (B, K)
            r_at = (w @ (recall * has_gold).T) / n_gold_rows[:, None]
            mean_ap = (w @ (np.nan_to_num(self.ap) * has_gold)) / n_gold_rows
        out: dict[str, np.ndarray] = {}
        for i, k in enumerate(self.ks):
            out[f"p@{k}"] = p_at[:, i]
            out[f"r@{k}"] = r_at[:, i]
        out["map"] = mean_ap
        return out

    def summary(self) -> tuple[dict[str, float | int | None], float | None]:
        """``(at_k section, map)`` of ``evaluate``'s output (None where undefined)."""
        values = self.weighted(np.ones((1, self.n_gold.size)))
        section: dict[str, float | int | None] = {key: _num(v[0]) for key, v in values.items() if key != "map"}
        has_gold = self.n_gold > 0
        section["rows_with_gold"] = int(has_gold.sum())
        section["rows_without_gold"] = int(((self.n_valid > 0) & ~has_gold).sum())
        return section, _num(values["map"][0])


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def row_ranking(
    probs: np.ndarray, targets: np.ndarray, ks: Sequence[int] = (5, 8, 15), cols: np.ndarray | None = None
) -> RowRanking:
    """Per-row hits@k, gold counts and average precision over the label columns ``cols``.

    Args:
        probs: float ``(N, V)`` probabilities.
        targets: int ``(N, V)`` in {1, 0, -1}.
        ks: positive cut-offs.
        cols: optional int ``(L,)`` label columns (None: all).
    """
    probs, targets = check_probs_targets(probs, targets)
    cols = resolve_cols(cols, probs.shape[1])
    return _row_ranking(probs, targets, _check_ks(ks), cols)


def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(k) for k in ks)
    if any(k < 1 for k in out):
        raise ValueError(f"ks must be positive cut-offs; got {out}")
    return out


def _row_ranking(probs: np.ndarray, targets: np.ndarray, ks: tuple[int, ...], cols: np.ndarray) -> RowRanking:
    n = probs.shape[0]
    n_labels = cols.size
    hits = np.zeros((len(ks), n), dtype=np.float64)
    n_gold = np.zeros(n, dtype=np.int64)
    n_valid = np.zeros(n, dtype=np.int64)
    ap = np.full(n, np.nan, dtype=np.float64)
    step = max(1, CHUNK_ENTRIES // max(n_labels, 1))
    for r0 in range(0, n, step):
        sl = slice(r0, min(r0 + step, n))
        t = take_block(targets, sl, cols)
        valid = t != -1
        gold = t == 1
        s = np.where(valid, take_block(probs, sl, cols), -np.inf)  # (n, L), ignored never retrieved
        ss = np.sort(s, axis=1)
        gs = np.sort(np.where(gold, s, -np.inf), axis=1)  # gold scores, -inf elsewhere
        n_gold[sl] = np.count_nonzero(gold, axis=1)
        n_valid[sl] = np.count_nonzero(valid, axis=1)
        if n_labels == 0:
            continue
        rows_in = np.arange(ss.shape[0])
        for i, k in enumerate(ks):
            kk = min(k, n_labels)
            kth = ss[:, n_labels - kk]  # the k-th largest score (-inf: fewer than k valid labels)
            # Counts above / tied with the k-th score by binary search in the sorted rows; a
            # -inf k-th score means every valid label is retrieved and nothing ties.
            finite = kth > -np.inf
            le = rowwise_searchsorted(ss, rows_in, kth, "right")
            lt = rowwise_searchsorted(ss, rows_in, kth, "left")
            n_above = n_labels - le
            n_tied = np.where(finite, le - lt, 0)
            g_le = rowwise_searchsorted(gs, rows_in, kth, "right")
            g_lt = rowwise_searchsorted(gs, rows_in, kth, "left")
            g_above = n_labels - g_le
            g_tied = np.where(finite, g_le - g_lt, 0)
            # kk - n_above free places are shared at random among the n_tied tied labels.
            share = np.divide(kk - n_above, n_tied, out=np.zeros(n_tied.shape), where=n_tied > 0)
            hits[i, sl] = g_above + share * g_tied
        gr, gc = np.nonzero(gold)
        if gr.size == 0:
            continue
        gv = s[gr, gc]
        rank = n_labels - rowwise_searchsorted(ss, gr, gv, "left")  # valid labels scoring >= s_g
        gold_rank = n_labels - rowwise_searchsorted(gs, gr, gv, "left")  # gold scoring >= s_g
        ap_sum = np.bincount(gr, weights=gold_rank / rank, minlength=sl.stop - sl.start)
        with np.errstate(invalid="ignore", divide="ignore"):
            ap[sl] = np.where(n_gold[sl] > 0, ap_sum / n_gold[sl], np.nan)
    return RowRanking(ks=ks, hits=hits, n_gold=n_gold, n_valid=n_valid, ap=ap)
