"""LabelStats (training statistics) and the frequency Segmenter of the SH loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from clincode.labels import Segmenter
from clincode.losses import LabelStats, LabelStatsError, build_loss
from helpers import loss_references as ref


def targets(seed: int, rows: int = 50, num_labels: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = (rng.random((rows, num_labels)) < np.linspace(0.5, 0.02, num_labels)).astype(np.int8)
    t[rng.random(t.shape) < 0.1] = -1
    t[4] = -1  # a padded row: not a row of the split
    return t


def test_from_targets_accumulates_chunks_like_a_dense_count() -> None:
    t = targets(0)
    chunks = [torch.from_numpy(t[:7]), t[7:30], torch.from_numpy(t[30:])]
    stats = LabelStats.from_targets(chunks)
    kept = t[(t != -1).any(1)]
    assert stats.n_rows == len(kept) == len(t) - 1
    assert np.array_equal(stats.positives, (kept == 1).sum(0))
    assert np.array_equal(stats.valid, (kept != -1).sum(0))
    assert np.array_equal(stats.negatives, (kept == 0).sum(0))
    assert stats.indptr is not None and stats.indices is not None
    for r, row in enumerate(kept):
        assert stats.indices[stats.indptr[r] : stats.indptr[r + 1]].tolist() == np.flatnonzero(row == 1).tolist()
    light = LabelStats.from_targets([t], keep_rows=False)
    assert light.indptr is None and np.array_equal(light.positives, stats.positives)


def test_from_targets_rejects_bad_chunks() -> None:
    with pytest.raises(LabelStatsError, match="no chunks"):
        LabelStats.from_targets([])
    with pytest.raises(LabelStatsError, match="V = 3 columns, earlier chunks had 4"):
        LabelStats.from_targets([np.zeros((2, 4)), np.zeros((2, 3))])
    with pytest.raises(LabelStatsError, match="only hold the values 1, 0 and -1"):
        LabelStats.from_targets([np.array([[0, 2]])])
    with pytest.raises(LabelStatsError, match=r"shape \[N, V\]"):
        LabelStats.from_targets([np.zeros(3)])


def test_inconsistent_stats_raise() -> None:
    with pytest.raises(LabelStatsError, match="positives <= valid"):
        LabelStats(np.array([3, 1]), np.array([2, 2]), 2)
    with pytest.raises(LabelStatsError, match="indices"):
        LabelStats(np.array([1, 1]), np.array([2, 2]), 2, np.array([0, 1, 2]), np.array([0, 0]))


def test_select_restricts_columns_and_rows_record() -> None:
    t = targets(1)
    stats = LabelStats.from_targets([t])
    labels = np.array([5, 0, 7])
    sub = stats.select(labels)
    direct = LabelStats.from_targets([t[:, labels]])
    assert np.array_equal(sub.positives, direct.positives)
    assert np.array_equal(sub.valid, direct.valid)
    # rows whose only valid labels fall outside the subset still count as rows of the split
    assert sub.n_rows == stats.n_rows
    assert sub.indices is not None and direct.indices is not None
    assert sorted(sub.indices.tolist()) == sorted(direct.indices.tolist())


def test_cooccurrence_matches_dense_product_and_top_filter() -> None:
    t = targets(2)
    stats = LabelStats.from_targets([t])
    y = (t[(t != -1).any(1)] == 1).astype(np.float64)
    dense = y.T @ y
    assert np.allclose(stats.cooccurrence().toarray(), dense)
    top = stats.cooccurrence(top=2).toarray()
    assert np.allclose(np.diag(top), stats.positives)
    assert np.allclose(top, top.T)
    off = top - np.diag(np.diag(top))
    for a in range(len(off)):
        strongest = np.sort(np.delete(dense[a], a))[::-1][:2]
        assert set(strongest[strongest > 0]) <= set(off[a][off[a] > 0]) | set(off[:, a][off[:, a] > 0])


# --------------------------------------------------------------------------- Segmenter


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("eta", [0.1, 0.5, 1.0])
def test_segmenter_matches_explicit_tail_first_loop(seed: int, eta: float) -> None:
    rng = np.random.default_rng(seed)
    counts = np.round(rng.pareto(1.2, size=200) * 10).astype(np.int64)  # long tail, ties, zeros
    counts[:5] = 0
    seg = Segmenter(eta).fit(counts)
    expected = ref.segments(counts.tolist(), eta)
    assert [s.tolist() for s in seg.segments_] == expected
    assert seg.num_segments == len(expected) > 1
    for s, labels in enumerate(seg.segments_):
        assert (seg.segment_of_[labels] == s).all()
        f = counts[labels]
        assert np.std(f) <= eta * f.min() + 1e-9  # every segment satisfies the rule


def test_segmenter_tail_first_and_paper_example() -> None:
    # frequencies 1, 1, 2, 10, 11, 12, 700: from the tail, {1, 1, 2} has std 0.47 <= 0.5 * 1,
    # adding 10 breaks it; {10, 11, 12} has std 0.82 <= 5; 700 stands alone.
    counts = np.array([700, 10, 1, 12, 2, 11, 1])
    seg = Segmenter(0.5).fit(counts)
    assert [s.tolist() for s in seg.segments_] == [[2, 4, 6], [1, 3, 5], [0]]


def test_segmenter_refit_on_one_segment_gives_one_segment() -> None:
    counts = np.random.default_rng(3).integers(1, 500, size=300)
    seg = Segmenter(0.5).fit(counts)
    for labels in seg.segments_:
        assert Segmenter(0.5).fit(counts[labels]).num_segments == 1


def test_segmenter_long_run_of_distinct_segments_is_fast() -> None:
    counts = 3 ** (np.arange(5000) % 30) + np.arange(5000)  # many short segments
    seg = Segmenter(0.5).fit(counts)
    assert sum(len(s) for s in seg.segments_) == 5000


@pytest.mark.parametrize("eta", [0.0, -1.0, float("inf"), float("nan")])
def test_segmenter_rejects_bad_eta(eta: float) -> None:
    with pytest.raises(ValueError, match="eta"):
        Segmenter(eta)


def test_segmenter_rejects_bad_counts() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        Segmenter().fit(np.array([1, -2]))
    with pytest.raises(ValueError, match="1-D"):
        Segmenter().fit(np.zeros((2, 2)))


def test_sh_fit_needs_the_rows_record_and_stores_buffers() -> None:
    t = targets(4)
    with pytest.raises(LabelStatsError, match="keep_rows=True"):
        build_loss("sh", t.shape[1]).fit(LabelStats.from_targets([t], keep_rows=False))
    stats = LabelStats.from_targets([t])
    loss = build_loss("sh", t.shape[1]).fit(stats)
    segs = ref.segments(stats.positives.tolist(), 0.5)
    rows = [set(stats.indices[a:b].tolist()) for a, b in zip(stats.indptr[:-1], stats.indptr[1:], strict=True)]
    assert [s.tolist() for s in loss.segments()] == segs
    assert np.allclose(loss.inverse_beta(), ref.sh_inverse_beta(rows, segs))
    state = loss.state_dict()
    assert {"segment_ids_", "inv_beta_", "num_segments_"} <= set(state)


def test_dataset_statistics_are_buffers_used_only_when_asked() -> None:
    t = targets(5)
    stats = LabelStats.from_targets([t])
    batch_loss = build_loss("weighted_bce", t.shape[1]).fit(stats)  # default: batch statistics
    assert int(batch_loss.positives_.sum()) == 0
    data_loss = build_loss("weighted_bce", t.shape[1], statistics="dataset").fit(stats)
    assert torch.equal(data_loss.positives_, torch.from_numpy(stats.positives))
    assert bool(data_loss.fitted_)
    x = torch.randn(6, t.shape[1], dtype=torch.float64)
    tt = torch.from_numpy(t[:6])
    assert data_loss(x, tt).item() != pytest.approx(batch_loss(x, tt).item(), rel=1e-3)


def test_unfitted_dataset_statistics_warn_once_and_use_the_batch() -> None:
    t = torch.from_numpy(targets(6)[:8])
    x = torch.randn(t.shape, dtype=torch.float64)
    loss = build_loss("class_balanced", t.shape[1], statistics="dataset")
    with pytest.warns(UserWarning, match="never fitted"):
        value = loss(x, t).item()
    assert value == pytest.approx(build_loss("class_balanced", t.shape[1])(x, t).item(), rel=1e-12)
