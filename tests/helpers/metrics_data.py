"""Random masked multi-label data with the awkward cases the metrics must survive."""

from __future__ import annotations

import numpy as np


def awkward_data(
    n: int = 240,
    v: int = 17,
    seed: int = 0,
    dtype: type = np.float32,
    decimals: int | None = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """``(probs (n, v), targets int8 (n, v))`` with ties, ignored entries and degenerate labels.

    - scores rounded to ``decimals`` (many ties) and informative (positives score higher);
    - 10% of entries ignored (-1), row 3 entirely ignored;
    - label 0: no positive; label 1: no negative; label 2: all entries ignored; label 3: a single
      positive; label 4: constant score.
    """
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.02, 0.4, size=v)
    y = (rng.random((n, v)) < freq).astype(np.int8)
    logit = rng.normal(size=(n, v)) + 1.5 * y - 1.0
    p = 1.0 / (1.0 + np.exp(-logit))
    if decimals is not None:
        p = np.round(p, decimals)
    p = p.astype(dtype)
    y[rng.random((n, v)) < 0.1] = -1
    y[:, 0] = np.where(y[:, 0] == -1, -1, 0)
    y[:, 1] = np.where(y[:, 1] == -1, -1, 1)
    y[:, 2] = -1
    y[:, 3] = np.where(y[:, 3] == -1, -1, 0)
    y[5, 3] = 1
    p[:, 4] = dtype(0.25)
    y[3, :] = -1
    p[3, :] = np.nan  # ignored entries may hold anything
    return p, y


def repeat_rows(weights: np.ndarray) -> np.ndarray:
    """Row indices realising integer row weights ``(N,)`` (row i repeated weights[i] times)."""
    return np.repeat(np.arange(weights.size), weights.astype(np.int64))


def patch_chunks(monkeypatch, entries: int) -> None:  # type: ignore[no-untyped-def]
    """Force tiny row / label blocks so that every multi-block code path runs on small data."""
    from clincode.metrics import _inputs, _sweep, at_k, bootstrap, decision, operating

    for module in (_inputs, _sweep, at_k, bootstrap, decision, operating):
        monkeypatch.setattr(module, "CHUNK_ENTRIES", entries)
    monkeypatch.setattr(_sweep, "POOL_ENTRIES", 2 * entries)  # several micro pools as well
