"""Frequency segmentation of labels (Ray et al. 2023, the Segmented Harmonic loss paper)."""

from __future__ import annotations

import math

import numpy as np


class Segmenter:
    """Split labels into segments of tolerable frequency variance, starting from the tail.

    Rule (docs/methods.md section 3.1): sort labels by training frequency (ascending, ties by label
    index); starting from the rarest, grow a segment while
    ``std(freqs in segment) <= eta * min(freqs in segment)``, then start the next one. The
    standard deviation is the population one (ddof = 0) [ours: the paper does not say].
    A label with frequency 0 can only share a segment with other zero-frequency labels.

    Fitted attributes:
        segments_: list of int64 arrays of label indices (each sorted by label index);
            segment 0 holds the rarest labels.
        segment_of_: int64 [V], the segment of each label.
    """

    def __init__(self, eta: float = 0.5) -> None:
        if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 0):
            raise ValueError(f"Segmenter eta must be a finite number > 0, got {eta!r}")
        self.eta = float(eta)

    def fit(self, label_counts: np.ndarray) -> Segmenter:
        """Segment labels given their training counts [V] (non-negative, finite)."""
        f_all = np.asarray(label_counts, dtype=np.float64)
        if f_all.ndim != 1 or f_all.size == 0:
            raise ValueError(f"label_counts must be a non-empty 1-D array [V], got shape {f_all.shape}")
        if not np.isfinite(f_all).all() or (f_all < 0).any():
            raise ValueError("label_counts must be finite and non-negative")
        order = np.argsort(f_all, kind="stable")
        f = f_all[order]
        segments: list[np.ndarray] = []
        start = 0
        n = f.size
        while start < n:
            end = start + self._segment_length(f[start:])
            segments.append(np.sort(order[start:end]))
            start = end
        self.segments_ = segments
        segment_of = np.empty(n, dtype=np.int64)
        for s, labels in enumerate(segments):
            segment_of[labels] = s
        self.segment_of_ = segment_of
        return self

    def _segment_length(self, f: np.ndarray) -> int:
        """Length of the segment that starts at f[0] (f ascending, so f[0] is the segment's min).

        Candidate segments f[:L] are checked all at once from running moments, over a look-ahead
        that doubles until the first violation shows up, so the work per segment is O(its length)
        (plus a constant) even when segments are short.
        """
        look = 64
        while True:
            # moments about f[0] so that equal frequencies give exactly std 0
            window = f[:look] - f[0]
            size = np.arange(1, window.size + 1, dtype=np.float64)
            mean = np.cumsum(window) / size
            var = np.maximum(np.cumsum(window * window) / size - mean * mean, 0.0)
            fits = np.sqrt(var) <= self.eta * f[0] * (1 + 1e-12)
            fits[0] = True  # a single label always forms a segment
            broken = np.flatnonzero(~fits)
            if broken.size:
                return int(broken[0])
            if window.size == f.size:
                return int(f.size)
            look *= 2

    @property
    def num_segments(self) -> int:
        return len(self.segments_)
