"""AUROC / AUPRC per label and micro against scikit-learn on masked data with ties."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from clincode.metrics import MetricsInputError, ranking_metrics
from clincode.metrics._search import rowwise_searchsorted, segmented_searchsorted
from clincode.metrics.ranking import micro_from_groups
from helpers.metrics_data import awkward_data, patch_chunks


def _sk_per_label(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = p.shape[1]
    auroc = np.full(v, np.nan)
    auprc = np.full(v, np.nan)
    for j in range(v):
        m = y[:, j] != -1
        yy, ss = y[m, j], p[m, j]
        if 0 < yy.sum() < yy.size:
            auroc[j] = roc_auc_score(yy, ss)
            auprc[j] = average_precision_score(yy, ss)
    return auroc, auprc


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decimals", [1, 2, None])
def test_per_label_and_micro_match_sklearn(dtype: type, decimals: int | None) -> None:
    p, y = awkward_data(seed=decimals or 7, dtype=dtype, decimals=decimals)
    res = ranking_metrics(p, y)
    ref_auroc, ref_auprc = _sk_per_label(p, y)
    np.testing.assert_array_equal(np.isnan(res.auroc), np.isnan(ref_auroc))
    np.testing.assert_allclose(res.auroc, ref_auroc, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.auprc, ref_auprc, rtol=0, atol=1e-12)
    m = y != -1
    assert res.auroc_micro == pytest.approx(roc_auc_score(y[m], p[m]), abs=1e-12)
    assert res.auprc_micro == pytest.approx(average_precision_score(y[m], p[m]), abs=1e-12)


def test_summary_macro_over_labels_with_both_classes() -> None:
    p, y = awkward_data(seed=3)
    res = ranking_metrics(p, y)
    ref_auroc, ref_auprc = _sk_per_label(p, y)
    used = ~np.isnan(ref_auroc)
    s = res.summary()
    # label 0 (no positive), 1 (no negative), 2 (all ignored) are skipped; 3 (one positive) is used
    assert s["macro_labels_skipped"] == 3 and s["macro_labels_used"] == p.shape[1] - 3
    assert used[3] and not used[:3].any()
    assert s["auroc_macro"] == pytest.approx(ref_auroc[used].mean(), abs=1e-12)
    assert s["auprc_macro"] == pytest.approx(ref_auprc[used].mean(), abs=1e-12)


def test_counts_per_label() -> None:
    p, y = awkward_data(seed=4)
    res = ranking_metrics(p, y)
    np.testing.assert_array_equal(res.n_pos, (y == 1).sum(0))
    np.testing.assert_array_equal(res.n_neg, (y == 0).sum(0))


def test_many_blocks_give_the_same_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    p, y = awkward_data(n=150, v=23, seed=5)
    whole = ranking_metrics(p, y)
    patch_chunks(monkeypatch, 150 * 3)  # label blocks of 3 columns, row blocks of a few rows
    blocked = ranking_metrics(p, y)
    np.testing.assert_allclose(blocked.auroc, whole.auroc, atol=1e-15)
    np.testing.assert_allclose(blocked.auprc, whole.auprc, atol=1e-15)
    assert blocked.auroc_micro == pytest.approx(whole.auroc_micro, abs=1e-15)
    assert blocked.auprc_micro == pytest.approx(whole.auprc_micro, abs=1e-15)


def test_column_subset_equals_sliced_arrays() -> None:
    p, y = awkward_data(seed=6)
    cols = np.array([9, 1, 5, 12, 3])
    sub = ranking_metrics(p, y, cols=cols)
    ref = ranking_metrics(p[:, cols], y[:, cols])
    np.testing.assert_allclose(sub.auroc, ref.auroc, atol=1e-15)
    np.testing.assert_allclose(sub.auprc, ref.auprc, atol=1e-15)
    assert sub.auprc_micro == pytest.approx(ref.auprc_micro, abs=1e-15)


def test_no_positive_at_all_is_undefined_not_an_error() -> None:
    p = np.full((4, 3), 0.3, np.float32)
    y = np.zeros((4, 3), np.int8)
    res = ranking_metrics(p, y)
    assert np.isnan(res.auroc_micro) and np.isnan(res.auprc_micro)
    assert res.summary()["auroc_macro"] is None and res.summary()["macro_labels_used"] == 0


def test_hand_computed_example() -> None:
    # one label, scores 0.9(+) 0.8(-) 0.8(+) 0.1(-): pairs (+,-): (0.9>0.8) (0.9>0.1) (0.8=0.8) (0.8>0.1)
    p = np.array([[0.9], [0.8], [0.8], [0.1]], np.float32)
    y = np.array([[1], [0], [1], [0]], np.int8)
    res = ranking_metrics(p, y)
    assert res.auroc[0] == pytest.approx(3.5 / 4)
    # AP: threshold 0.9 -> P=1, R=.5; threshold 0.8 -> P=2/3, R=1: 0.5*1 + 0.5*2/3
    assert res.auprc[0] == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_segmented_searchsorted_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    rows = np.sort(np.round(rng.random((7, 50)), 1), axis=1)
    q_rows = rng.integers(0, 7, size=400)
    q_vals = np.round(rng.random(400) * 1.2 - 0.1, 1)
    lengths = rng.integers(0, 51, size=7)
    for side in ("left", "right"):
        got = rowwise_searchsorted(rows, q_rows, q_vals, side, lengths)
        want = [np.searchsorted(rows[r, : lengths[r]], v, side=side) for r, v in zip(q_rows, q_vals, strict=True)]
        np.testing.assert_array_equal(got, want)
    flat = np.sort(rng.random(10))
    assert segmented_searchsorted(flat, np.array([3]), np.array([3]), np.array([0.5]))[0] == 3  # empty slice


@pytest.mark.parametrize(
    ("probs", "targets", "message"),
    [
        (np.array([[2.5, 0.1]]), np.array([[1, 0]]), "logits"),
        (np.array([[np.nan, 0.1]]), np.array([[1, 0]]), "probabilities in \\[0, 1\\]"),
        (np.array([[0.5, 0.1]]), np.array([[2, 0]]), "only 1, 0 or -1"),
        (np.array([[0.5, 0.1]]), np.array([[1, 0, 0]]), "shape of probs"),
        (np.array([0.5, 0.1]), np.array([1, 0]), "2-d"),
        (np.array([[1, 0]]), np.array([[1, 0]]), "float array"),
    ],
)
def test_bad_inputs_raise_clear_errors(probs: np.ndarray, targets: np.ndarray, message: str) -> None:
    with pytest.raises(MetricsInputError, match=message):
        ranking_metrics(probs, targets)


def test_ignored_entries_may_hold_anything() -> None:
    p = np.array([[0.9, np.nan], [0.2, 7.0], [0.4, 0.3]])
    y = np.array([[1, -1], [0, -1], [0, 1]], np.int8)
    res = ranking_metrics(p, y)
    assert res.auroc[0] == 1.0 and np.isnan(res.auroc[1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_micro_from_groups_equals_the_expanded_entries(seed: int) -> None:
    rng = np.random.default_rng(seed)
    g = 40
    scores = np.round(rng.random(g), 1).astype(np.float32)  # groups share scores
    n_pos, n_neg = rng.integers(0, 4, g), rng.integers(0, 6, g)
    y = np.concatenate([np.r_[np.ones(p), np.zeros(n)] for p, n in zip(n_pos, n_neg, strict=True)])
    s = np.repeat(scores, n_pos + n_neg)
    auroc, auprc = micro_from_groups(scores, n_pos, n_neg)
    assert auprc == pytest.approx(average_precision_score(y, s), rel=1e-12)
    assert auroc == pytest.approx(roc_auc_score(y, s), rel=1e-12)
    dense = ranking_metrics(s.reshape(-1, 1), y.astype(np.int8).reshape(-1, 1))
    assert auprc == pytest.approx(dense.auprc_micro, rel=1e-12)
