"""P@k, R@k and MAP against slow explicit loops and scikit-learn's LRAP."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics import label_ranking_average_precision_score

from clincode.metrics import row_ranking
from helpers.metrics_data import awkward_data, patch_chunks


def _slow_expected_hits(scores: np.ndarray, gold: np.ndarray, valid: np.ndarray, k: int) -> float:
    """Average hits@k over every order of the tied labels (explicit enumeration)."""
    idx = np.flatnonzero(valid)
    s = scores[idx]
    g = gold[idx]
    # group labels by score, descending; enumerate permutations inside each tie group
    levels = sorted(set(s.tolist()), reverse=True)
    groups = [np.flatnonzero(s == lv) for lv in levels]
    total, count = 0.0, 0
    for perms in itertools.product(*[itertools.permutations(gr) for gr in groups]):
        order = np.concatenate([np.array(pm, dtype=np.int64) for pm in perms])
        total += g[order[:k]].sum()
        count += 1
    return total / count


def test_hits_with_ties_equal_the_average_over_tie_orders() -> None:
    rng = np.random.default_rng(0)
    n, v = 40, 7
    p = rng.choice([0.1, 0.5, 0.9], size=(n, v)).astype(np.float32)
    y = (rng.random((n, v)) < 0.35).astype(np.int8)
    y[rng.random((n, v)) < 0.2] = -1
    rr = row_ranking(p, y, ks=(1, 2, 3, 5, 9))
    for i in range(n):
        valid = y[i] != -1
        for ki, k in enumerate(rr.ks):
            want = _slow_expected_hits(p[i], y[i] == 1, valid, k)
            assert rr.hits[ki, i] == pytest.approx(want, abs=1e-12), (i, k)


def _slow_trec_ap(scores: np.ndarray, gold: np.ndarray) -> float:
    order = np.argsort(-scores, kind="stable")
    hits, total = 0, 0.0
    for rank, j in enumerate(order, start=1):
        if gold[j]:
            hits += 1
            total += hits / rank
    return total / gold.sum()


def test_without_ties_p_r_map_match_explicit_loops() -> None:
    p, y = awkward_data(n=120, v=30, seed=1, decimals=None)
    p[:, 4] = np.linspace(0.01, 0.99, p.shape[0])  # break the constant column's ties
    rr = row_ranking(p, y, ks=(1, 5, 8, 40))
    section, mean_ap = rr.summary()
    p_ref = {k: [] for k in rr.ks}
    r_ref = {k: [] for k in rr.ks}
    aps = []
    for i in range(p.shape[0]):
        valid = y[i] != -1
        if not valid.any():
            continue
        s = p[i][valid]
        g = y[i][valid] == 1
        top = np.argsort(-s, kind="stable")
        for k in rr.ks:
            hits = g[top[:k]].sum()
            p_ref[k].append(hits / k)
            if g.any():
                r_ref[k].append(hits / g.sum())
        if g.any():
            aps.append(_slow_trec_ap(s, g))
    for k in rr.ks:
        assert section[f"p@{k}"] == pytest.approx(np.mean(p_ref[k]), abs=1e-12)
        assert section[f"r@{k}"] == pytest.approx(np.mean(r_ref[k]), abs=1e-12)
    assert mean_ap == pytest.approx(np.mean(aps), abs=1e-12)
    assert section["rows_with_gold"] == len(aps)
    assert section["rows_with_gold"] + section["rows_without_gold"] == p.shape[0] - 1  # row 3 dropped
    assert section["r@40"] == pytest.approx(1.0)  # k beyond V retrieves every valid label


@pytest.mark.parametrize("decimals", [1, 2])
def test_map_with_ties_matches_sklearn_lrap_on_valid_labels(decimals: int) -> None:
    p, y = awkward_data(n=150, v=12, seed=decimals, decimals=decimals)
    rr = row_ranking(p, y)
    want = []
    for i in range(p.shape[0]):
        valid = y[i] != -1
        g = (y[i][valid] == 1).astype(int)
        if g.sum() == 0:
            assert np.isnan(rr.ap[i])
            continue
        want.append(label_ranking_average_precision_score(g[None, :], p[i][valid][None, :]))
        assert rr.ap[i] == pytest.approx(want[-1], abs=1e-12)
    assert rr.summary()[1] == pytest.approx(np.mean(want), abs=1e-12)


def test_rows_without_gold_count_in_p_at_k_but_not_in_recall() -> None:
    p = np.array([[0.9, 0.8, 0.1], [0.9, 0.8, 0.1]], np.float32)
    y = np.array([[1, 0, 0], [0, 0, 0]], np.int8)
    section, mean_ap = row_ranking(p, y, ks=(1, 2)).summary()
    assert section["p@1"] == pytest.approx(0.5)  # (1 + 0) / 2 rows
    assert section["r@1"] == pytest.approx(1.0)  # only the row with gold
    assert section["p@2"] == pytest.approx(0.25)
    assert mean_ap == pytest.approx(1.0)
    assert section["rows_without_gold"] == 1


def test_ignored_entries_are_never_retrieved() -> None:
    # the ignored entry has the top score; it must not take a place in the top k
    p = np.array([[0.99, 0.5, 0.4, 0.3]], np.float32)
    y = np.array([[-1, 0, 1, 0]], np.int8)
    rr = row_ranking(p, y, ks=(2,))
    assert rr.hits[0, 0] == 1.0
    assert rr.ap[0] == pytest.approx(0.5)  # gold at rank 2 among valid labels
    # fewer valid labels than k: k stays the denominator of P@k
    section, _ = row_ranking(p, y, ks=(10,)).summary()
    assert section["p@10"] == pytest.approx(0.1) and section["r@10"] == 1.0


def test_constant_model_scores_its_base_rate() -> None:
    p = np.full((3, 10), 0.5, np.float32)
    y = np.zeros((3, 10), np.int8)
    y[:, :2] = 1
    section, _ = row_ranking(p, y, ks=(5,)).summary()
    assert section["p@5"] == pytest.approx(0.2)


def test_row_blocks_give_the_same_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    p, y = awkward_data(n=90, v=15, seed=9)
    whole = row_ranking(p, y, ks=(3, 8))
    patch_chunks(monkeypatch, 15 * 4)
    blocked = row_ranking(p, y, ks=(3, 8))
    np.testing.assert_allclose(blocked.hits, whole.hits)
    np.testing.assert_allclose(blocked.ap, whole.ap)


def test_weighted_with_unit_weights_is_the_summary() -> None:
    p, y = awkward_data(seed=2)
    rr = row_ranking(p, y)
    section, mean_ap = rr.summary()
    w = rr.weighted(np.ones((2, p.shape[0])))
    assert w["map"][1] == pytest.approx(mean_ap, abs=1e-12)
    assert w["p@8"][0] == pytest.approx(section["p@8"], abs=1e-12)


def test_bad_k_raises() -> None:
    with pytest.raises(ValueError, match="positive"):
        row_ranking(np.zeros((1, 2)), np.zeros((1, 2), np.int8), ks=(0,))
