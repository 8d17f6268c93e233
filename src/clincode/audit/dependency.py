"""Audit of a learned label-dependency matrix W (Ho et al. 2026, docs/methods.md section 1.8).

W is an output-space compatibility weight, not a causal effect or a co-occurrence frequency; the
audit therefore reports how it relates to co-occurrence (PMI on the training split) and, on
synthetic data, how well |W| recovers the generator's truly coupled code pairs.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import sparse
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import roc_auc_score


def cooccurrence(indptr: np.ndarray, indices: np.ndarray, num_labels: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Co-occurrence counts C [V, V] (diagonal = label counts), label counts [V], number of rows.

    Rows are given in CSR form: row r's positive label indices are ``indices[indptr[r]:indptr[r+1]]``.
    """
    n_rows = len(indptr) - 1
    data = np.ones(len(indices), dtype=np.float64)
    y = sparse.csr_matrix((data, indices, indptr), shape=(n_rows, num_labels))
    c = (y.T @ y).toarray()
    return c, np.diag(c).copy(), n_rows


def pmi(c: np.ndarray, counts: np.ndarray, n_rows: int, smoothing: float = 1.0) -> np.ndarray:
    """Pointwise mutual information log(p_ij / (p_i p_j)) with add-``smoothing`` counts [V, V]."""
    p_ij = (c + smoothing) / (n_rows + smoothing)
    p_i = (counts + smoothing) / (n_rows + smoothing)
    out = np.log(p_ij) - np.log(p_i)[:, None] - np.log(p_i)[None, :]
    np.fill_diagonal(out, 0.0)
    return out


def upper(m: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(m.shape[0], k=1)
    return m[i, j]


def w_pmi_correlation(w: np.ndarray, pmi_matrix: np.ndarray, c: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman correlation of W with PMI over pairs that co-occur at least once."""
    seen = upper(c) > 0
    wu, pu = upper(w)[seen], upper(pmi_matrix)[seen]
    if seen.sum() < 3 or np.std(wu) == 0 or np.std(pu) == 0:
        return {"pairs": int(seen.sum()), "pearson": float("nan"), "spearman": float("nan")}
    return {
        "pairs": int(seen.sum()),
        "pearson": float(pearsonr(wu, pu).statistic),
        "spearman": float(spearmanr(wu, pu).statistic),
    }


def true_pair_matrix(codes: list[str], true_pairs: pl.DataFrame) -> np.ndarray:
    """Boolean [V, V] of truly coupled pairs (non-zero coupling) among the label codes."""
    index = {c: i for i, c in enumerate(codes)}
    truth = np.zeros((len(codes), len(codes)), dtype=bool)
    coupled = true_pairs.filter(pl.col("coupling") != 0)
    for a, b in zip(coupled["code_a"].to_list(), coupled["code_b"].to_list(), strict=True):
        if a in index and b in index:
            truth[index[a], index[b]] = truth[index[b], index[a]] = True
    return truth


def recovery_auroc(w: np.ndarray, truth: np.ndarray, baseline: np.ndarray | None = None) -> dict[str, float]:
    """AUROC of |W| (and optionally a baseline score such as |PMI|) against true coupled pairs."""
    y = upper(truth)
    out: dict[str, float] = {"true_pairs": int(y.sum()), "pairs": int(y.size)}
    if 0 < y.sum() < y.size:
        out["auroc_abs_w"] = float(roc_auc_score(y, np.abs(upper(w))))
        out["auroc_w"] = float(roc_auc_score(y, upper(w)))
        if baseline is not None:
            out["auroc_baseline"] = float(roc_auc_score(y, upper(baseline)))
    return out


def strongest_pairs(w: np.ndarray, codes: list[str], descriptions: list[str], k: int = 20) -> pl.DataFrame:
    """The k most positive and k most negative pairs of W with code descriptions."""
    i, j = np.triu_indices(w.shape[0], k=1)
    vals = w[i, j]
    order = np.argsort(vals)
    picks = list(order[::-1][:k]) + list(order[:k])
    return pl.DataFrame(
        {
            "sign": ["positive"] * min(k, len(order)) + ["negative"] * min(k, len(order)),
            "code_a": [codes[i[p]] for p in picks],
            "description_a": [descriptions[i[p]] for p in picks],
            "code_b": [codes[j[p]] for p in picks],
            "description_b": [descriptions[j[p]] for p in picks],
            "weight": [float(vals[p]) for p in picks],
        }
    )


def annotate_pairs(
    pairs: pl.DataFrame, codes: list[str], pmi_matrix: np.ndarray, c: np.ndarray, truth: np.ndarray | None = None
) -> pl.DataFrame:
    """The strongest pairs with their training co-occurrence count and PMI, and (on synthetic
    cohorts) whether the generator truly couples them: what a clinician checks a pair against.
    """
    index = {code: i for i, code in enumerate(codes)}
    a = np.array([index[x] for x in pairs["code_a"].to_list()], dtype=np.int64)
    b = np.array([index[x] for x in pairs["code_b"].to_list()], dtype=np.int64)
    out = pairs.with_columns(
        pl.Series("train_cooccurrence", c[a, b].astype(np.int64) if a.size else np.zeros(0, np.int64)),
        pl.Series("train_pmi", pmi_matrix[a, b] if a.size else np.zeros(0)),
    )
    if truth is not None:
        out = out.with_columns(pl.Series("truly_coupled", truth[a, b] if a.size else np.zeros(0, bool)))
    return out


def top_pair_precision(score: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Share of truly coupled pairs among the k pairs with the largest score (upper triangle)."""
    s, y = upper(score), upper(truth)
    k = min(k, s.size)
    if k == 0:
        return float("nan")
    top = np.argsort(-s, kind="stable")[:k]
    return float(y[top].mean())
