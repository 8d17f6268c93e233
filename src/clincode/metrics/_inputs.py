"""Validation of the arrays every metric takes.

Conventions shared by the whole ``clincode.metrics`` package:

- ``probs``: float array ``(N, V)`` of probabilities (not logits). float16 is widened to float32;
  float32 / float64 are used as given (no copy), so results are exact for the dtype passed in.
- ``targets``: integer array ``(N, V)`` with values in {1, 0, -1}; -1 means "ignore this entry".
  Ignored entries never count as positives or negatives and are never retrieved or ranked; their
  probabilities may hold anything (even NaN).
- A row whose entries are all ignored carries no information and is dropped from every metric
  (``row_valid`` below is False for it).
- ``cols``: int64 index array of the label columns a metric looks at (a frequency bucket, say);
  ``None`` means all V columns.
"""

from __future__ import annotations

import numpy as np

# Chunks of about this many (row, label) entries bound the temporary memory of every pass
# (a float64 temporary of 4M entries is 32 MB) while keeping numpy calls large.
CHUNK_ENTRIES = 4_000_000


class MetricsInputError(ValueError):
    """An input array of a metric has the wrong shape, dtype or values."""


def check_probs_targets(probs: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(probs, targets)`` as (float32|float64 ``(N, V)``, int8 ``(N, V)``) after checking them.

    Raises :class:`MetricsInputError` naming the array and the expectation when the shapes differ,
    targets hold values outside {1, 0, -1}, or a non-ignored probability is not finite in [0, 1]
    (a frequent sign that logits were passed).
    """
    probs = np.asarray(probs)
    targets = np.asarray(targets)
    if probs.ndim != 2:
        raise MetricsInputError(f"probs must be a 2-d array (rows, labels); got shape {probs.shape}")
    if targets.shape != probs.shape:
        raise MetricsInputError(f"targets must have the shape of probs {probs.shape}; got {targets.shape}")
    if not np.issubdtype(probs.dtype, np.floating):
        raise MetricsInputError(f"probs must be a float array of probabilities; got dtype {probs.dtype}")
    if probs.dtype == np.float16:
        probs = probs.astype(np.float32)
    if targets.dtype == np.bool_:
        targets = targets.astype(np.int8)
    elif not np.issubdtype(targets.dtype, np.integer):
        raise MetricsInputError(f"targets must be an integer array with values in {{1, 0, -1}}; got dtype {targets.dtype}")
    n = probs.shape[0]
    step = max(1, CHUNK_ENTRIES // max(probs.shape[1], 1))
    for r0 in range(0, n, step):
        t = targets[r0 : r0 + step]
        if t.size and (t.min() < -1 or t.max() > 1):
            raise MetricsInputError(
                f"targets must hold only 1, 0 or -1; found values in [{t.min()}, {t.max()}] near row {r0}"
            )
        p = probs[r0 : r0 + step]
        # NaN fails both comparisons, so it is caught here too.
        bad = ~((p >= 0.0) & (p <= 1.0)) & (t != -1)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise MetricsInputError(
                f"probs must be probabilities in [0, 1] wherever targets != -1 (were logits passed?); "
                f"found {p[r, c]!r} at row {r0 + r}, label {c}"
            )
    if targets.dtype != np.int8:
        targets = targets.astype(np.int8)  # safe: every value was checked to be in {-1, 0, 1}
    return probs, targets


def resolve_cols(cols: np.ndarray | None, n_labels: int) -> np.ndarray:
    """``cols`` as a sorted-or-not int64 index array into the V label columns (None: all)."""
    if cols is None:
        return np.arange(n_labels, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64).ravel()
    if cols.size and (cols.min() < 0 or cols.max() >= n_labels):
        raise MetricsInputError(f"label columns must lie in [0, {n_labels}); got range [{cols.min()}, {cols.max()}]")
    return cols


def take_block(a: np.ndarray, rows: slice, cols: np.ndarray) -> np.ndarray:
    """``a[rows][:, cols]`` without a fancy-index copy when ``cols`` is a contiguous range."""
    if cols.size and cols[-1] - cols[0] + 1 == cols.size and np.all(np.diff(cols) == 1):
        return a[rows, int(cols[0]) : int(cols[-1]) + 1]
    return a[rows][:, cols]


def row_valid(targets: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """bool ``(N,)``: rows with at least one non-ignored entry among ``cols``."""
    n, v = targets.shape
    out = np.zeros(n, dtype=bool)
    step = max(1, CHUNK_ENTRIES // max(cols.size, 1))
    for r0 in range(0, n, step):
        out[r0 : r0 + step] = (take_block(targets, slice(r0, r0 + step), cols) != -1).any(axis=1)
    return out


def check_groups(groups: np.ndarray | None, n_rows: int) -> np.ndarray | None:
    """``groups`` as int64 ``(N,)`` (patient or document ids) or None."""
    if groups is None:
        return None
    g = np.asarray(groups)
    if g.shape != (n_rows,):
        raise MetricsInputError(f"groups must have shape ({n_rows},), one id per row; got {g.shape}")
    if not np.issubdtype(g.dtype, np.integer):
        raise MetricsInputError(f"groups must be integer ids (patient or document); got dtype {g.dtype}")
    return g.astype(np.int64, copy=False)


def check_train_counts(train_counts: np.ndarray | None, n_labels: int) -> np.ndarray | None:
    """``train_counts`` as int64 ``(V,)`` (positives per label in the training split) or None."""
    if train_counts is None:
        return None
    c = np.asarray(train_counts)
    if c.shape != (n_labels,):
        raise MetricsInputError(f"train_counts must have shape ({n_labels},), one count per label; got {c.shape}")
    if not (np.issubdtype(c.dtype, np.integer) or np.all(np.mod(c, 1) == 0)):
        raise MetricsInputError("train_counts must hold whole numbers of training positives per label")
    c = c.astype(np.int64)
    if c.size and c.min() < 0:
        raise MetricsInputError("train_counts must be non-negative")
    return c
