"""Precision, recall, F1 and alert volume under a decision rule ``prob >= threshold``.

Definitions (docs/methods.md section 5.5), matching scikit-learn with ``zero_division=0``:

- a valid entry is predicted positive when ``prob >= threshold`` (per-label thresholds allowed);
  ``>=`` matches ``precision_recall_curve``, whose thresholds are attained scores. Thresholds
  are float64 and the comparison is exact (float32 probabilities are widened, so float32(0.35),
  which is 0.3499999940..., is *below* a threshold of 0.35);
- micro: TP, FP, FN summed over all valid entries, then P = TP/(TP+FP), R = TP/(TP+FN),
  F1 = 2TP/(2TP+FP+FN); each 0 when its denominator is 0;
- macro: per-label P, R, F1 (0 on a zero denominator), averaged over the labels with at least
  one valid positive in the evaluated data [ours; labels absent from the evaluated split have no
  recall]; ``f1_macro`` is the mean of per-label F1; ``f1_macro_caml`` is CAML's harmonic mean
  of macro-precision and macro-recall (reported for comparison with CAML / MARN tables);
- alert volume: mean number of predicted positives per valid row.

Counts are also kept per row (micro metrics and alert volume are sums over rows) so the
bootstrap re-weights rows without a second pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clincode.metrics._inputs import CHUNK_ENTRIES, check_probs_targets, resolve_cols, take_block


@dataclass(frozen=True)
class DecisionCounts:
    """Confusion counts of one decision rule over the label columns ``cols``.

    Attributes:
        tp_label, pp_label, pos_label: int64 ``(L,)`` true positives, predicted positives and
            valid positives per label.
        tp_row, pp_row, pos_row: int64 ``(N,)`` the same per row.
        n_valid_rows: rows with at least one valid entry.
    """

    tp_label: np.ndarray
    pp_label: np.ndarray
    pos_label: np.ndarray
    tp_row: np.ndarray
    pp_row: np.ndarray
    pos_row: np.ndarray
    n_valid_rows: int

    def summary(self) -> dict[str, float | int]:
        """The section of one rule in ``evaluate``'s ``rules``."""
        out = prf(self.tp_label[None], self.pp_label[None], self.pos_label[None])
        section: dict[str, float | int] = {key: float(v[0]) for key, v in out.items()}
        section["alert_volume"] = float(self.pp_row.sum() / self.n_valid_rows) if self.n_valid_rows else 0.0
        section["macro_labels_used"] = int((self.pos_label > 0).sum())
        return section


def as_thresholds(threshold: float | np.ndarray, n_labels: int) -> np.ndarray:
    """A scalar or ``(L,)`` threshold as a float64 ``(L,)`` vector."""
    thr = np.asarray(threshold, dtype=np.float64)
    if thr.ndim == 0:
        return np.full(n_labels, float(thr))
    if thr.shape != (n_labels,):
        raise ValueError(f"thresholds must be a scalar or one per label ({n_labels},); got shape {thr.shape}")
    return thr


def decision_counts(
    probs: np.ndarray, targets: np.ndarray, threshold: float | np.ndarray, cols: np.ndarray | None = None
) -> DecisionCounts:
    """Confusion counts of the rule ``prob >= threshold`` over the label columns ``cols``.

    Args:
        probs: float ``(N, V)`` probabilities.
        targets: int ``(N, V)`` in {1, 0, -1}.
        threshold: scalar or float ``(L,)`` (one per column of ``cols``).
        cols: optional int ``(L,)`` label columns (None: all).
    """
    probs, targets = check_probs_targets(probs, targets)
    cols = resolve_cols(cols, probs.shape[1])
    return _decision_counts(probs, targets, as_thresholds(threshold, cols.size), cols)


def predicted(probs_block: np.ndarray, targets_block: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """bool ``(n, L)``: valid entries predicted positive (``prob >= thr``, exact as in float64)."""
    return (probs_block >= threshold_in(thr, probs_block.dtype)[None, :]) & (targets_block != -1)


def threshold_in(thr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float64 thresholds as ``dtype`` values giving the same ``prob >= t`` decisions.

    For float32 probabilities ``p >= t`` (exact) holds iff ``p >= t32`` with ``t32`` the smallest
    float32 not below ``t``; comparing in float32 avoids a float64 cast of every probability.
    """
    if np.dtype(dtype) == np.float64:
        return thr
    t = thr.astype(dtype)
    low = t.astype(np.float64) < thr
    t[low] = np.nextafter(t[low], np.asarray(np.inf, dtype=dtype))
    return t


def _decision_counts(probs: np.ndarray, targets: np.ndarray, thr: np.ndarray, cols: np.ndarray) -> DecisionCounts:
    n = probs.shape[0]
    n_labels = cols.size
    tp_label = np.zeros(n_labels, np.int64)
    pp_label = np.zeros(n_labels, np.int64)
    pos_label = np.zeros(n_labels, np.int64)
    tp_row = np.zeros(n, np.int64)
    pp_row = np.zeros(n, np.int64)
    pos_row = np.zeros(n, np.int64)
    n_valid_rows = 0
    step = max(1, CHUNK_ENTRIES // max(n_labels, 1))
    for r0 in range(0, n, step):
        sl = slice(r0, r0 + step)
        t = take_block(targets, sl, cols)
        pred = predicted(take_block(probs, sl, cols), t, thr)
        gold = t == 1
        tp = pred & gold
        tp_label += tp.sum(axis=0)
        pp_label += pred.sum(axis=0)
        pos_label += gold.sum(axis=0)
        tp_row[sl] = tp.sum(axis=1)
        pp_row[sl] = pred.sum(axis=1)
        pos_row[sl] = gold.sum(axis=1)
        n_valid_rows += int((t != -1).any(axis=1).sum())
    return DecisionCounts(tp_label, pp_label, pos_label, tp_row, pp_row, pos_row, n_valid_rows)


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b > 0)


def prf(tp: np.ndarray, pp: np.ndarray, pos: np.ndarray) -> dict[str, np.ndarray]:
    """Micro and macro precision / recall / F1 from per-label counts.

    Args:
        tp, pp, pos: ``(B, L)`` (possibly weighted) true positives, predicted positives and
            positives per label, one row per replicate.

    Returns:
        dict of ``(B,)`` arrays: precision_micro, recall_micro, f1_micro, precision_macro,
        recall_macro, f1_macro, f1_macro_caml (macro over labels with ``pos > 0``; NaN if none).
    """
    tp = np.asarray(tp, np.float64)
    pp = np.asarray(pp, np.float64)
    pos = np.asarray(pos, np.float64)
    tp_s, pp_s, pos_s = tp.sum(-1), pp.sum(-1), pos.sum(-1)
    present = pos > 0
    n_present = present.sum(-1)
    p_l = _safe_div(tp, pp)
    r_l = _safe_div(tp, pos)
    f_l = _safe_div(2 * tp, pp + pos)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_mac = np.where(present, p_l, 0).sum(-1) / n_present
        r_mac = np.where(present, r_l, 0).sum(-1) / n_present
        f_mac = np.where(present, f_l, 0).sum(-1) / n_present
        caml = np.where(p_mac + r_mac > 0, 2 * p_mac * r_mac / (p_mac + r_mac), 0.0)
    caml = np.where(n_present > 0, caml, np.nan)
    return {
        "precision_micro": _safe_div(tp_s, pp_s),
        "recall_micro": _safe_div(tp_s, pos_s),
        "f1_micro": _safe_div(2 * tp_s, pp_s + pos_s),
        "precision_macro": p_mac,
        "recall_macro": r_mac,
        "f1_macro": f_mac,
        "f1_macro_caml": caml,
    }
