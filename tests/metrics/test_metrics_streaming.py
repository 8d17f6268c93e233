"""Validation metrics streamed over batches (clincode.metrics.streaming): the binned micro AUPRC is
close to the exact average precision, and F1 at 0.5 from per-label counts equals scikit-learn on the
whole split.
"""

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, f1_score

from clincode.metrics.streaming import BinnedMicroAP, DecisionCounts05


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binned_ap_close_to_exact(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random((400, 50)) < 0.05).astype(np.int8)
    p = 1 / (1 + np.exp(-(rng.normal(size=y.shape) + 2.0 * y - 3)))
    y[:20, :10] = -1
    m = BinnedMicroAP()
    for chunk in np.array_split(np.arange(400), 7):  # accumulated over batches
        m.update(torch.tensor(p[chunk]), torch.tensor(y[chunk]))
    valid = y != -1
    exact = average_precision_score(y[valid], p[valid])
    assert m.compute() == pytest.approx(exact, abs=2e-3)
    m.reset()
    assert np.isnan(m.compute())


def test_perfect_and_ignored():
    m = BinnedMicroAP()
    m.update(torch.tensor([[0.9, 0.1, 0.7]]), torch.tensor([[1, 0, -1]]))
    assert m.compute() == pytest.approx(1.0)


def test_streamed_f1_matches_sklearn():
    rng = np.random.default_rng(3)
    probs = rng.uniform(size=(37, 9)).astype(np.float32)
    targets = (rng.uniform(size=(37, 9)) < 0.25).astype(np.int8)
    targets[:, 4] = 0  # a label without gold positives is left out of the macro mean
    counts = DecisionCounts05(9)
    for start in range(0, 37, 8):  # batches, as in validation
        counts.update(torch.from_numpy(probs[start : start + 8]), torch.from_numpy(targets[start : start + 8]))
    macro, micro = counts.compute()
    pred = (probs >= 0.5).astype(int)
    used = targets.sum(0) > 0
    per_label = f1_score(targets, pred, average=None, zero_division=0)
    assert abs(macro - per_label[used].mean()) < 1e-12
    assert abs(micro - f1_score(targets, pred, average="micro")) < 1e-12


def test_ignored_entries_do_not_count():
    counts = DecisionCounts05(2)
    probs = torch.tensor([[[0.9, 0.9], [0.9, 0.1]]])  # [B, T, V] next-visit shape
    targets = torch.tensor([[[1, -1], [-1, -1]]], dtype=torch.int8)
    counts.update(probs, targets)
    assert counts.counts.tolist() == [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]
    assert counts.compute() == (1.0, 1.0)
