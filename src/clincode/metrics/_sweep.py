"""The one heavy primitive behind AUROC, AUPRC and threshold tuning: counting negatives.

Every ranking quantity needs, at the score ``v`` of a positive entry, how many negatives of the
same label (per-label metrics) or of any label (micro metrics) score below ``v`` and how many tie
with it. Positives are few (a handful per row), negatives are nearly all of the N x V entries, so:

- positives are gathered once and sorted by (label, score): small;
- negatives are visited in blocks of label columns: each block is transposed to (labels, rows),
  ignored/positive entries are set to +inf, and every row is sorted (numpy's SIMD sort); a
  lock-step binary search then places all the block's positive scores in their label's row;
- for the micro counts the block's negatives are also sorted as one flat array and the distinct
  positive scores of all labels are located with one ``np.searchsorted`` (sorted keys: fast).

Nothing loops over labels in Python; memory is bounded by the block size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clincode.metrics._inputs import CHUNK_ENTRIES, take_block
from clincode.metrics._search import rowwise_searchsorted

# Size of the pooled negatives sorted together for the micro counts (64 MB of float32).
POOL_ENTRIES = 16_000_000


@dataclass(frozen=True)
class Positives:
    """Valid positive entries, sorted by (label, score).

    Attributes:
        label: int64 ``(P,)`` label position in ``cols`` (0 .. L-1), ascending.
        value: ``(P,)`` probability of the entry (probs dtype), ascending within a label.
        row: int64 ``(P,)`` row of the entry.
        label_start: int64 ``(L + 1,)`` label l owns ``[label_start[l], label_start[l + 1])``.
        tie_start: int64 ``(P,)`` index of the first entry with the same (label, score).
    """

    label: np.ndarray
    value: np.ndarray
    row: np.ndarray
    label_start: np.ndarray
    tie_start: np.ndarray

    @property
    def n_per_label(self) -> np.ndarray:
        """int64 ``(L,)`` positives per label."""
        return np.diff(self.label_start)

    @property
    def count_ge(self) -> np.ndarray:
        """int64 ``(P,)`` positives of the entry's label scoring ``>=`` the entry's score."""
        return self.label_start[self.label + 1] - self.tie_start


def collect_positives(probs: np.ndarray, targets: np.ndarray, cols: np.ndarray) -> Positives:
    """Gather the entries with target 1 among ``cols`` (see :class:`Positives`)."""
    n = probs.shape[0]
    step = max(1, CHUNK_ENTRIES // max(cols.size, 1))
    rows, labels, values = [], [], []
    for r0 in range(0, n, step):
        sl = slice(r0, r0 + step)
        r, c = np.nonzero(take_block(targets, sl, cols) == 1)
        rows.append(r + r0)
        labels.append(c)
        values.append(take_block(probs, sl, cols)[r, c])
    row = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)
    label = np.concatenate(labels).astype(np.int64) if labels else np.zeros(0, np.int64)
    value = np.concatenate(values) if values else np.zeros(0, probs.dtype)
    order = np.lexsort((value, label))
    row, label, value = row[order], label[order], value[order]
    label_start = np.searchsorted(label, np.arange(cols.size + 1), side="left").astype(np.int64)
    idx = np.arange(label.size, dtype=np.int64)
    new = np.ones(label.size, dtype=bool)
    new[1:] = (label[1:] != label[:-1]) | (value[1:] != value[:-1])
    tie_start = np.maximum.accumulate(np.where(new, idx, 0)) if idx.size else idx
    return Positives(label=label, value=value, row=row, label_start=label_start, tie_start=tie_start)


@dataclass(frozen=True)
class NegativeCounts:
    """Counts of valid negatives below / at query scores.

    Attributes:
        n_neg: int64 ``(L,)`` valid negatives per label.
        lt, le: int64 ``(Q,)`` negatives of the query's label with score ``<`` / ``<=`` its value.
        global_lt, global_le: int64 ``(U,)`` negatives of any label in ``cols`` with score
            ``<`` / ``<=`` each global value (empty when no global values were asked).
    """

    n_neg: np.ndarray
    lt: np.ndarray
    le: np.ndarray
    global_lt: np.ndarray
    global_le: np.ndarray


def label_blocks(n_rows: int, n_cols: int) -> list[tuple[int, int]]:
    """Column ranges ``[c0, c1)`` of about :data:`CHUNK_ENTRIES` entries each."""
    width = max(1, CHUNK_ENTRIES // max(n_rows, 1))
    return [(c0, min(c0 + width, n_cols)) for c0 in range(0, n_cols, width)]


def transposed_block(a: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``a[:, cols].T`` as a C-contiguous ``(len(cols), N)`` array.

    Copied in two steps (contiguous ``(N, c)`` first, then transposed): about twice as fast as
    one strided transpose of the row-major input, whose rows are far apart in memory.
    """
    return np.ascontiguousarray(np.ascontiguousarray(take_block(a, slice(None), cols)).T)


def count_negatives(
    probs: np.ndarray,
    targets: np.ndarray,
    cols: np.ndarray,
    query_label: np.ndarray,
    query_value: np.ndarray,
    global_values: np.ndarray | None = None,
) -> NegativeCounts:
    """Count valid negatives below and at query scores, per label and over all labels.

    Args:
        probs, targets: ``(N, V)`` checked inputs.
        cols: int64 ``(L,)`` label columns considered.
        query_label: int64 ``(Q,)`` label positions (into ``cols``), **ascending**.
        query_value: ``(Q,)`` finite scores to place among that label's negatives.
        global_values: optional ascending ``(U,)`` scores to place among all negatives of ``cols``.

    Returns:
        :class:`NegativeCounts`.
    """
    n = probs.shape[0]
    n_cols = cols.size
    n_neg = np.zeros(n_cols, dtype=np.int64)
    lt = np.zeros(query_label.size, dtype=np.int64)
    le = np.zeros(query_label.size, dtype=np.int64)
    gv = np.zeros(0, dtype=probs.dtype) if global_values is None else np.asarray(global_values)
    g_lt = np.zeros(gv.size, dtype=np.int64)
    g_le = np.zeros(gv.size, dtype=np.int64)
    # Negatives of several label blocks are pooled before the micro search: the search costs
    # ~U log(pool) per pool, so fewer, larger pools are cheaper.
    pool: list[np.ndarray] = []
    pooled = 0

    def flush() -> None:
        nonlocal pooled
        if pool:
            flat = np.concatenate(pool) if len(pool) > 1 else pool[0]
            flat.sort()
            g_lt[:] += np.searchsorted(flat, gv, side="left")
            g_le[:] += np.searchsorted(flat, gv, side="right")
            pool.clear()
            pooled = 0

    for c0, c1 in label_blocks(n, n_cols):
        x = transposed_block(probs, cols[c0:c1])  # (c, N)
        neg = transposed_block(targets, cols[c0:c1]) == 0  # (c, N)
        counts = neg.sum(axis=1)
        n_neg[c0:c1] = counts
        # +inf sorts after every probability, so the first counts[l] entries of row l are the
        # label's negatives in ascending order and a search over the full row counts only them.
        s = np.where(neg, x, np.inf)
        del x, neg
        s.sort(axis=1)
        q0, q1 = np.searchsorted(query_label, [c0, c1], side="left")
        if q1 > q0:
            rows = query_label[q0:q1] - c0
            vals = query_value[q0:q1]
            lt[q0:q1] = rowwise_searchsorted(s, rows, vals, "left", counts)
            le[q0:q1] = rowwise_searchsorted(s, rows, vals, "right", counts)
        if gv.size:
            pool.append(s[np.arange(n)[None, :] < counts[:, None]])
            pooled += pool[-1].size
            if pooled >= POOL_ENTRIES:
                flush()
    flush()
    return NegativeCounts(n_neg=n_neg, lt=lt, le=le, global_lt=g_lt, global_le=g_le)
