"""Precision / recall / F1 (micro, macro, CAML) and alert volume against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

from clincode.metrics import decision_counts
from helpers.metrics_data import awkward_data, patch_chunks


def _sklearn_reference(p: np.ndarray, y: np.ndarray, thr: np.ndarray) -> dict[str, float]:
    valid = y != -1
    pred = (p >= thr[None, :]) & valid
    m = valid
    # micro: all valid entries flattened into one binary problem
    pm, rm, fm, _ = precision_recall_fscore_support(
        (y[m] == 1).astype(int), pred[m].astype(int), average="binary", zero_division=0
    )
    per_p, per_r, per_f = [], [], []
    for j in range(p.shape[1]):
        mj = valid[:, j]
        yj = (y[mj, j] == 1).astype(int)
        if yj.sum() == 0:
            continue  # macro averages labels with at least one positive
        pj, rj, fj, _ = precision_recall_fscore_support(
            yj, pred[mj, j].astype(int), average="binary", zero_division=0
        )
        per_p.append(pj)
        per_r.append(rj)
        per_f.append(fj)
    p_mac, r_mac = np.mean(per_p), np.mean(per_r)
    rows = valid.any(axis=1)
    return {
        "precision_micro": pm,
        "recall_micro": rm,
        "f1_micro": fm,
        "precision_macro": p_mac,
        "recall_macro": r_mac,
        "f1_macro": np.mean(per_f),
        "f1_macro_caml": 2 * p_mac * r_mac / (p_mac + r_mac),
        "alert_volume": pred[rows].sum() / rows.sum(),
        "macro_labels_used": len(per_f),
    }


@pytest.mark.parametrize("rule", ["0.5", "0.3", "per_label"])
def test_rules_match_sklearn(rule: str) -> None:
    p, y = awkward_data(n=300, v=19, seed=11)
    v = p.shape[1]
    if rule == "per_label":
        thr = np.random.default_rng(0).choice([0.2, 0.3, 0.5, 0.7], size=v).astype(np.float64)
        thr[4] = 0.25  # exactly the constant score of label 4: >= must predict it
    else:
        thr = np.full(v, float(rule))
    got = decision_counts(p, y, thr).summary()
    want = _sklearn_reference(p, y, thr)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_score_equal_to_threshold_is_positive() -> None:
    p = np.array([[0.5, 0.49]], np.float32)
    y = np.array([[1, 1]], np.int8)
    s = decision_counts(p, y, 0.5).summary()
    assert s["recall_micro"] == 0.5 and s["alert_volume"] == 1.0


def test_zero_division_conventions() -> None:
    # nothing predicted: precision 0 (sklearn zero_division=0), recall 0, F1 0
    p = np.full((3, 2), 0.1, np.float32)
    y = np.array([[1, 0], [0, 0], [1, 0]], np.int8)
    s = decision_counts(p, y, 0.5).summary()
    assert s["precision_micro"] == 0.0 and s["f1_micro"] == 0.0 and s["f1_macro_caml"] == 0.0
    assert s["macro_labels_used"] == 1 and s["alert_volume"] == 0.0


def test_counts_per_row_and_label_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    p, y = awkward_data(n=80, v=9, seed=12)
    whole = decision_counts(p, y, 0.4)
    patch_chunks(monkeypatch, 9 * 7)
    blocked = decision_counts(p, y, 0.4)
    for name in ("tp_label", "pp_label", "pos_label", "tp_row", "pp_row", "pos_row"):
        np.testing.assert_array_equal(getattr(blocked, name), getattr(whole, name))
    assert whole.tp_label.sum() == whole.tp_row.sum() and whole.pp_label.sum() == whole.pp_row.sum()
    assert whole.n_valid_rows == p.shape[0] - 1


def test_threshold_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="one per label"):
        decision_counts(np.zeros((2, 3)), np.zeros((2, 3), np.int8), np.array([0.5, 0.5]))


def test_float32_probabilities_compare_exactly_with_float64_thresholds() -> None:
    p32 = np.array([[np.float32(0.35), np.float32(0.35)]], np.float32)  # 0.3499999940...
    y = np.array([[1, 1]], np.int8)
    thr = np.array([0.35, float(np.float32(0.35))])
    c = decision_counts(p32, y, thr)
    assert c.pp_label.tolist() == [0, 1]
    # and the same decisions as an explicit float64 comparison on random data
    rng = np.random.default_rng(3)
    p = rng.random((50, 40)).astype(np.float32)
    t = rng.random(40)
    t[:10] = p[0, :10].astype(np.float64)  # thresholds exactly at attained scores
    got = decision_counts(p, np.zeros((50, 40), np.int8), t).pp_label
    np.testing.assert_array_equal(got, (p.astype(np.float64) >= t).sum(0))
