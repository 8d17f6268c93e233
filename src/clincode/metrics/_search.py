"""Vectorised binary search inside many sorted segments of one flat array.

``np.searchsorted`` searches one sorted array. The metrics need, for a few million queries at
once, the position of a value inside *its own* sorted row (a label's sorted negatives, a row's
sorted scores). Offsetting values per segment would need extra precision the probabilities do
not leave room for, so this runs the binary search itself, all queries in lock-step: about
log2(longest segment) rounds of one gather each, whatever the dtype.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def segmented_searchsorted(
    flat: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    values: np.ndarray,
    side: Literal["left", "right"] = "left",
) -> np.ndarray:
    """Insertion points of ``values[q]`` into the sorted slice ``flat[lo[q]:hi[q]]``.

    Args:
        flat: 1-d array, ascending inside every searched slice ``[lo[q], hi[q])``.
        lo, hi: int64 ``(Q,)`` slice bounds (absolute indices into ``flat``).
        values: ``(Q,)`` the values to place.
        side: as in ``np.searchsorted``: "left" counts elements ``< value``, "right" ``<= value``.

    Returns:
        int64 ``(Q,)`` absolute positions ``p`` with ``lo <= p <= hi``; ``p - lo`` is the count.
    """
    lo = np.asarray(lo, dtype=np.int64).copy()
    hi = np.asarray(hi, dtype=np.int64).copy()
    values = np.asarray(values)
    if lo.size == 0:
        return lo
    longest = int((hi - lo).max())
    last = max(flat.size - 1, 0)
    for _ in range(max(longest, 1).bit_length()):
        active = lo < hi
        mid = (lo + hi) >> 1
        probe = flat[np.minimum(mid, last)]
        right = (probe < values) if side == "left" else (probe <= values)
        right &= active
        lo = np.where(right, mid + 1, lo)
        hi = np.where(active & ~right, mid, hi)
    return lo


def rowwise_searchsorted(
    sorted_rows: np.ndarray,
    rows: np.ndarray,
    values: np.ndarray,
    side: Literal["left", "right"] = "left",
    lengths: np.ndarray | None = None,
) -> np.ndarray:
    """Per-row ``np.searchsorted``: count of ``sorted_rows[rows[q], :len]`` elements before ``values[q]``.

    Args:
        sorted_rows: ``(R, M)`` C-contiguous, every row ascending.
        rows: int ``(Q,)`` row of each query.
        values: ``(Q,)`` query values.
        side: "left" (count ``<``) or "right" (count ``<=``).
        lengths: optional int ``(R,)``: only the first ``lengths[r]`` entries of row r are searched.

    Returns:
        int64 ``(Q,)`` counts in ``[0, M]``.
    """
    sorted_rows = np.ascontiguousarray(sorted_rows)
    m = sorted_rows.shape[1]
    rows = np.asarray(rows, dtype=np.int64)
    lo = rows * m
    hi = lo + (m if lengths is None else np.asarray(lengths, dtype=np.int64)[rows])
    return segmented_searchsorted(sorted_rows.ravel(), lo, hi, values, side) - lo
