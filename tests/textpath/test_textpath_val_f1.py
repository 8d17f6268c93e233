"""Validation F1 at 0.5 from streamed per-label counts equals scikit-learn on the whole split."""

import numpy as np
import torch
from sklearn.metrics import f1_score

from clincode.metrics.streaming import DecisionCounts05


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
