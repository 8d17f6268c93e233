"""Bootstrap by group: replicates are exactly the metrics of the resampled data; CI behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clincode.metrics import ThresholdTuner, evaluate, flatten_metrics
from clincode.metrics._inputs import row_valid
from clincode.metrics.bootstrap import (
    group_index,
    percentile_interval,
    replicate_metrics,
    resample_weights,
    weighted_label_counts,
)
from clincode.metrics.evaluate import _core, _rules
from helpers.metrics_data import awkward_data, patch_chunks, repeat_rows

KS = (2, 5)


def _setup(n: int = 160, v: int = 13, seed: int = 41):  # type: ignore[no-untyped-def]
    p, y = awkward_data(n=n, v=v, seed=seed)
    tuner = ThresholdTuner(min_positives=3).fit(p, y)
    cols = np.arange(v, dtype=np.int64)
    rules = _rules(tuner, v)
    core, rows, pp_row = _core(p, y, cols, rules, KS, tuner.fallback_mask_)
    return p, y, tuner, cols, rules, core, rows, pp_row


def _assert_paths_equal(reps: dict[str, np.ndarray], index: int, reference: dict[str, float]) -> None:
    assert reps, "no replicate"
    for path, values in reps.items():
        want = reference[path]
        got = float(values[index])
        if math.isnan(want):
            assert math.isnan(got), path
        else:
            assert got == pytest.approx(want, abs=1e-10), path


def test_unit_weights_reproduce_every_point_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    patch_chunks(monkeypatch, 160 * 4)  # several label / row blocks
    p, y, tuner, cols, rules, core, rows, pp_row = _setup()
    weights = np.ones((2, p.shape[0]), np.float32)
    reps = replicate_metrics(p, y, cols, rows, rules, pp_row, weights)
    expected_paths = {"ranking.auroc_micro", "ranking.auprc_macro", "map", "at_k.p@5", "at_k.r@2"}
    expected_paths |= {f"rules.{r}.{m}" for r in rules for m in ("f1_micro", "f1_macro", "f1_macro_caml", "alert_volume")}
    assert expected_paths <= reps.keys()
    _assert_paths_equal(reps, 1, flatten_metrics(core))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_resample_equals_evaluating_the_repeated_rows(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    patch_chunks(monkeypatch, 160 * 5)
    p, y, tuner, cols, rules, core, rows, pp_row = _setup()
    groups = np.arange(p.shape[0]) // 4  # patients with 4 rows each
    ids, n_groups = group_index(groups, row_valid(y, cols))
    weights = resample_weights(ids, n_groups, 3, seed)
    reps = replicate_metrics(p, y, cols, rows, rules, pp_row, weights)
    for b in range(3):
        idx = repeat_rows(weights[b])
        ref = evaluate(p[idx], y[idx], thresholds=tuner, ks=KS, n_bootstrap=0)
        _assert_paths_equal(reps, b, flatten_metrics(ref))


def test_group_weights_follow_groups_and_skip_dropped_rows() -> None:
    valid = np.ones(12, dtype=bool)
    valid[5] = False
    groups = np.array([7, 7, 7, 3, 3, 9, 9, 1, 1, 1, 1, 4])
    ids, n_groups = group_index(groups, valid)
    assert n_groups == 5 and ids[5] == -1  # group 9 keeps row 6
    w = resample_weights(ids, n_groups, 50, seed=0)
    assert np.all(w[:, 5] == 0)
    for g in np.unique(groups):
        rows = np.flatnonzero((groups == g) & valid)
        assert np.all(w[:, rows] == w[:, rows[:1]])
    first_rows = [np.flatnonzero(ids == k)[0] for k in range(n_groups)]
    assert np.all(w[:, first_rows].sum(axis=1) == n_groups)  # G draws per resample
    ids_rows, n_rows = group_index(None, valid)
    assert n_rows == 11 and ids_rows[5] == -1


def test_dense_and_sparse_products_agree() -> None:
    p, y = awkward_data(n=120, v=11, seed=5)
    cols = np.arange(11, dtype=np.int64)
    w = resample_weights(*group_index(None, row_valid(y, cols)), 4, seed=3)
    thr = [np.full(11, 0.5), np.linspace(0.2, 0.8, 11)]
    pos_d, rules_d = weighted_label_counts(p, y, cols, thr, w, dense_fraction=0.0)
    pos_s, rules_s = weighted_label_counts(p, y, cols, thr, w, dense_fraction=1.1)
    np.testing.assert_array_equal(pos_d, pos_s)
    for (a, b), (c, d) in zip(rules_d, rules_s, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    np.testing.assert_array_equal(pos_d[0], w[0] @ (y == 1))


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    v = 12
    y = (rng.random((n, v)) < 0.25).astype(np.int8)
    p = 1 / (1 + np.exp(-(rng.normal(size=(n, v)) + 1.5 * y - 1)))
    return p.astype(np.float32), y


def test_intervals_contain_the_estimate_and_narrow_with_more_data() -> None:
    widths = {}
    for n in (200, 3200):
        p, y = _data(n, seed=n)
        m = evaluate(p, y, groups=np.arange(n) // 2, ks=(3,), n_bootstrap=200, seed=0)
        flat = flatten_metrics(m)
        assert m["bootstrap"]["unit"] == "group" and m["bootstrap"]["n_units"] == n // 2
        assert m["bootstrap"]["skipped"] == []
        for path, (lo, hi) in m["ci"].items():
            assert lo <= flat[path] <= hi, (n, path)
        widths[n] = {path: hi - lo for path, (lo, hi) in m["ci"].items()}
    for path in ("ranking.auroc_micro", "ranking.auprc_macro", "rules.0.5.f1_micro", "at_k.p@3", "map"):
        # 16x the data: about 4x narrower; demand at least 2x
        assert widths[3200][path] < widths[200][path] / 2, path


def test_seed_reproducibility_and_skips() -> None:
    p, y = _data(150, seed=1)
    a = evaluate(p, y, n_bootstrap=30, seed=5)
    b = evaluate(p, y, n_bootstrap=30, seed=5)
    c = evaluate(p, y, n_bootstrap=30, seed=6)
    assert a["ci"] == b["ci"] and a["ci"] != c["ci"]
    big = evaluate(p, y, n_bootstrap=30, bootstrap_max_entries=100)
    assert big["bootstrap"]["skipped"] and not any(k.startswith("ranking.") for k in big["ci"])
    assert "rules.0.5.f1_micro" in big["ci"] and "map" in big["ci"]
    one = evaluate(p, y, groups=np.zeros(150, np.int64), n_bootstrap=30)
    assert one["ci"] == {} and one["bootstrap"]["skipped"]


def test_percentile_interval() -> None:
    x = np.concatenate([np.arange(101, dtype=float), [np.nan]])
    assert percentile_interval(x, 0.9) == pytest.approx((5.0, 95.0))
    assert percentile_interval(np.array([np.nan]), 0.95) is None
