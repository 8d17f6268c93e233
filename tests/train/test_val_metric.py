"""The binned validation AUPRC is close to the exact average precision."""

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from clincode.metrics.streaming import BinnedMicroAP


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
