"""Audit helpers: pair annotations (co-occurrence, PMI, true coupling) and top-pair precision."""

from __future__ import annotations

import numpy as np
import pytest

from clincode.audit.dependency import annotate_pairs, cooccurrence, pmi, strongest_pairs, top_pair_precision


def test_annotated_pairs_carry_training_counts_pmi_and_truth() -> None:
    codes = ["A", "B", "C", "D"]
    indptr = np.array([0, 2, 4, 5, 7])
    indices = np.array([0, 1, 0, 1, 2, 2, 3])  # rows {A,B}, {A,B}, {C}, {C,D}
    c, counts, n = cooccurrence(indptr, indices, 4)
    p = pmi(c, counts, n)
    w = np.zeros((4, 4))
    w[0, 1] = w[1, 0] = 2.0
    w[2, 3] = w[3, 2] = -1.0
    truth = np.zeros((4, 4), dtype=bool)
    truth[0, 1] = truth[1, 0] = True
    pairs = annotate_pairs(strongest_pairs(w, codes, codes, k=1), codes, p, c, truth)
    first = pairs.row(0, named=True)
    assert (first["code_a"], first["code_b"], first["train_cooccurrence"], first["truly_coupled"]) == ("A", "B", 2, True)
    assert first["train_pmi"] == pytest.approx(p[0, 1])
    last = pairs.row(1, named=True)
    assert (last["code_a"], last["code_b"], last["weight"], last["truly_coupled"]) == ("C", "D", -1.0, False)
    assert "truly_coupled" not in annotate_pairs(strongest_pairs(w, codes, codes, k=1), codes, p, c).columns


def test_top_pair_precision_counts_true_pairs_among_the_largest_scores() -> None:
    score = np.array([[0, 3, 1, 0], [3, 0, 2, 0], [1, 2, 0, 5], [0, 0, 5, 0]], dtype=float)
    truth = np.zeros((4, 4), dtype=bool)
    truth[2, 3] = truth[3, 2] = True
    truth[0, 2] = truth[2, 0] = True
    assert top_pair_precision(score, truth, 1) == 1.0  # (C, D)
    assert top_pair_precision(score, truth, 2) == 0.5  # (C, D), (A, B)
    assert top_pair_precision(score, truth, 4) == 0.5  # + (B, C), (A, C)
    assert top_pair_precision(score, truth, 100) == pytest.approx(2 / 6)
