"""Vectorised helpers over ragged groups (CSR layouts) used by the synthetic generator."""

from __future__ import annotations

import numpy as np


def ragged_arange(counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(c)`` for each c in ``counts``: ``[2, 0, 3]`` -> ``[0, 1, 0, 1, 2]``.

    Shapes: counts (G,) non-negative ints -> (sum(counts),) int64.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def emit_members(
    process: np.ndarray,
    member_ptr: np.ndarray,
    member_code: np.ndarray,
    member_prob: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw each member code of each activated process independently with its emission probability.

    Args:
        process: (A,) process index of each activation.
        member_ptr: (K + 1,) CSR offsets of the members of each process.
        member_code: (M,) code index of each member.
        member_prob: (M,) emission probability e_{k,c} of each member.

    Returns:
        (row, code): (E,) index into ``process`` of the activation that emitted each code, and the
        code index, ordered by activation then member.
    """
    starts = member_ptr[process]
    counts = member_ptr[process + 1] - starts
    slot = np.repeat(starts, counts) + ragged_arange(counts)
    keep = rng.random(slot.size) < member_prob[slot]
    row = np.repeat(np.arange(process.size, dtype=np.int64), counts)
    return row[keep], member_code[slot[keep]].astype(np.int64)


def draw_categorical(cumulative: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws from the distribution whose unnormalised cumulative weights are ``cumulative``.

    Shapes: cumulative (C,) non-decreasing, last entry > 0 -> (n,) int64 in [0, C).
    """
    u = rng.random(n) * cumulative[-1]
    idx = np.searchsorted(cumulative, u, side="right")
    return np.minimum(idx, cumulative.size - 1).astype(np.int64)
