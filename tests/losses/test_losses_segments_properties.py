"""Segmenter of the SH loss, property-based (hypothesis): a partition into maximal tail-first segments
that each satisfy the std <= eta * min rule.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clincode.labels import Segmenter

counts_strategy = st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=300).map(np.array)
eta_strategy = st.floats(min_value=1e-3, max_value=10.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(counts=counts_strategy, eta=eta_strategy)
def test_segments_partition_labels_and_each_satisfies_the_rule(counts: np.ndarray, eta: float) -> None:
    seg = Segmenter(eta).fit(counts)
    together = np.concatenate(seg.segments_)
    assert np.array_equal(np.sort(together), np.arange(counts.size))  # a partition: each label once
    for s, labels in enumerate(seg.segments_):
        f = counts[labels].astype(np.float64)
        assert labels.size >= 1
        assert (seg.segment_of_[labels] == s).all()
        # the rule (a lone label always forms a segment)
        assert labels.size == 1 or np.std(f) <= eta * f.min() * (1 + 1e-9) + 1e-12


@settings(max_examples=60, deadline=None)
@given(counts=counts_strategy, eta=eta_strategy)
def test_segments_are_tail_first_and_maximal(counts: np.ndarray, eta: float) -> None:
    seg = Segmenter(eta).fit(counts)
    f = counts.astype(np.float64)
    for a, b in zip(seg.segments_[:-1], seg.segments_[1:], strict=True):
        assert f[a].max() <= f[b].min()  # frequencies ascend from segment to segment
        # maximal: adding the next label (the rarest of the next segment) would break the rule
        nxt = b[np.argmin(f[b])]
        grown = np.append(f[a], f[nxt])
        assert np.std(grown) > eta * grown.min() * (1 - 1e-9)


@settings(max_examples=40, deadline=None)
@given(counts=st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=300).map(np.array))
def test_large_eta_gives_one_segment(counts: np.ndarray) -> None:
    # std <= max - min < max <= eta * min as soon as eta >= max / min
    eta = float(counts.max()) / float(counts.min()) + 1.0
    seg = Segmenter(eta).fit(counts)
    assert seg.num_segments == 1


@pytest.mark.parametrize("eta", [0.0, -0.5, -1e-9])
def test_non_positive_eta_is_an_error(eta: float) -> None:
    with pytest.raises(ValueError, match="eta must be a finite number > 0"):
        Segmenter(eta)
