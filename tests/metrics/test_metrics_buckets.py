"""Head / medium / tail buckets: partition rules and bucket metrics equal metrics on the subset."""

from __future__ import annotations

import numpy as np
import pytest

from clincode.metrics import (
    BUCKET_NAMES,
    BucketSpec,
    ThresholdTuner,
    assign_buckets,
    decision_counts,
    evaluate,
    flatten_metrics,
)
from helpers.metrics_data import awkward_data


def test_tertiles_of_distinct_counts() -> None:
    counts = np.array([5, 1, 9, 3, 7, 2, 8, 4, 6])
    b = assign_buckets(counts)
    assert sorted(counts[b.cols("tail")]) == [1, 2, 3]
    assert sorted(counts[b.cols("medium")]) == [4, 5, 6]
    assert sorted(counts[b.cols("head")]) == [7, 8, 9]


@pytest.mark.parametrize("seed", range(5))
def test_buckets_partition_and_never_split_a_count(seed: int) -> None:
    rng = np.random.default_rng(seed)
    counts = rng.zipf(1.6, size=200) - 1  # many ties, many zeros
    b = assign_buckets(counts)
    all_cols = np.concatenate([b.cols(n) for n in BUCKET_NAMES])
    assert sorted(all_cols.tolist()) == list(range(200))
    head, med, tail = (counts[b.cols(n)] for n in BUCKET_NAMES)
    if head.size and med.size:
        assert head.min() > med.max()
    if med.size and tail.size:
        assert med.min() > tail.max()
    if head.size and tail.size:
        assert head.min() > tail.max()
    # the tail holds at least the rarest third (more only when ties force it)
    assert tail.size >= int(np.ceil(200 / 3)) or tail.max() < np.sort(counts)[66]


def test_zero_counts_all_go_to_the_tail() -> None:
    counts = np.array([0] * 8 + [3, 50, 100])
    b = assign_buckets(counts)
    assert set(b.cols("tail")) == set(range(8))
    assert b.describe(counts)["tail"] == {"n_labels": 8, "train_count_min": 0, "train_count_max": 0}


def test_fixed_count_edges() -> None:
    counts = np.array([0, 9, 10, 99, 100, 1000])
    b = assign_buckets(counts, BucketSpec(kind="count", edges=(10, 100)))
    assert b.cols("tail").tolist() == [0, 1]
    assert b.cols("medium").tolist() == [2, 3]
    assert b.cols("head").tolist() == [4, 5]


def test_bad_specs_raise() -> None:
    with pytest.raises(ValueError, match="quantile"):
        BucketSpec(edges=(0.7, 0.2))
    with pytest.raises(ValueError, match="kind"):
        BucketSpec(kind="rank", edges=(1, 2))  # type: ignore[arg-type]


def test_bucket_metrics_equal_metrics_on_the_label_subset() -> None:
    p, y = awkward_data(n=220, v=18, seed=31)
    tuner = ThresholdTuner(min_positives=3).fit(p, y)
    counts = np.random.default_rng(1).integers(0, 500, size=18)
    m = evaluate(p, y, train_counts=counts, thresholds=tuner, ks=(2, 5), n_bootstrap=0)
    b = assign_buckets(counts)
    for name in BUCKET_NAMES:
        cols = b.cols(name)
        sec = m["buckets"][name]
        assert sec["n_labels"] == cols.size
        sub = evaluate(p[:, cols], y[:, cols], ks=(2, 5), n_bootstrap=0)
        got = flatten_metrics({k: sec[k] for k in ("ranking", "at_k", "map")})
        want = flatten_metrics({k: sub[k] for k in ("ranking", "at_k", "map")})
        assert got.keys() == want.keys()
        for key in want:
            np.testing.assert_allclose(got[key], want[key], atol=1e-12, err_msg=f"{name} {key}")
        assert sec["n_rows"] == sub["n_rows"]
        for key, value in sub["rules"]["0.5"].items():
            if value is None:
                assert sec["rules"]["0.5"][key] is None, key
            else:
                assert sec["rules"]["0.5"][key] == pytest.approx(value, abs=1e-12), key
        per_label = decision_counts(p[:, cols], y[:, cols], tuner.thresholds_[cols]).summary()
        for key, value in per_label.items():
            assert sec["rules"]["per_label"][key] == pytest.approx(value, abs=1e-12, nan_ok=True), key
        assert sec["rules"]["per_label"]["n_fallback_labels"] == int(tuner.fallback_mask_[cols].sum())
    sizes = m["buckets"]["boundaries"]
    assert sum(sizes[n]["n_labels"] for n in BUCKET_NAMES) == 18
