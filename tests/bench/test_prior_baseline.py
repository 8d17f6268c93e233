"""benchmarks/prior_baseline.py: the training prevalence (LabelStats) counts valid entries only, and the
model's probabilities are that prevalence at every visit of every patient.
"""

import importlib.util
from pathlib import Path

import numpy as np
import torch

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "prior_baseline.py"
_spec = importlib.util.spec_from_file_location("prior_baseline", _PATH)
prior = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prior)


def test_prevalence_counts_valid_entries_only():
    # the baseline's prevalence is LabelStats.prevalence(): two chunks of rows, -1 = ignored entry
    from clincode.losses import LabelStats

    rows1 = torch.tensor([[1, 0, 0], [0, 1, -1], [-1, -1, -1]])
    rows2 = torch.tensor([[1, 1, 0]])
    p = LabelStats.from_targets([rows1, rows2]).prevalence()
    # code 0: positives 2 of 3 valid; code 1: 2 of 3; code 2: 0 of 2
    np.testing.assert_allclose(p, [2 / 3, 2 / 3, 0.0])


def test_model_predicts_the_prevalence_everywhere():
    prev = np.array([0.25, 0.01, 0.0])
    model = prior.PrevalenceModel(prev)
    out = model({"targets": torch.zeros(4, 5, 3)})
    assert out.shape == (4, 5, 3)
    probs = torch.sigmoid(out)
    np.testing.assert_allclose(probs[2, 3].numpy(), [0.25, 0.01, 1e-7], rtol=1e-5, atol=1e-9)
    assert torch.equal(probs[0, 0], probs[3, 4])


def test_model_handles_document_batches():
    model = prior.PrevalenceModel(np.array([0.5, 0.1]))
    out = model({"targets": torch.zeros(6, 2)})
    assert out.shape == (6, 2)
    np.testing.assert_allclose(torch.sigmoid(out[5]).numpy(), [0.5, 0.1], rtol=1e-5)
