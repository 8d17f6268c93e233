"""Rank weights of the ordered weighted average in the dependency-aware loss (Ho et al. 2026).

For a row with K valid values sorted in descending order s_(1) >= ... >= s_(K), the aggregate is
``C = sum_i omega_i s_(i)`` with ``omega_i = 2 i / (K (K + 1))``. Since gradient flows through the
sorted values, ``dC/dv_j = omega_{rank(j)}``: it is enough to know, without gradient, the rank of
every entry in its original position and take ``C = 2 / (K (K + 1)) * sum_j rank_j v_j``.

The sort is the costly step. On the CPU, for float32, each (value, label index) pair is packed
into one int64 key (the bits of a non-negative float32 order like integers; the index breaks
ties) and rows are sorted with NumPy's SIMD sort in a few threads, several times faster than
``torch.sort``. Elsewhere (GPU, float64) a stable ``torch.sort`` gives the same order.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

_INT32_MIN = np.iinfo(np.int32).min
_POOL: ThreadPoolExecutor | None = None


def descending_ranks(v: Tensor, valid: Tensor, k: Tensor) -> Tensor:
    """Float [R, V]: each valid entry's 1-based rank among its row's valid values, largest first.

    Args:
        v: [R, V] values, >= 0 where valid (the weighted correctness is); no gradient is tracked.
        valid: [R, V], float or bool, non-zero = valid.
        k: [R], the number of valid entries per row (float or int).

    Entries that are not valid get ranks above K (meaningless; callers mask or multiply them by
    a zero). Ties are ranked by label index: the lower index gets the larger rank, as a stable
    ascending sort would place it first; any tie order gives the same weighted sum.
    """
    v = v.detach()
    rows, num_labels = v.shape
    if v.device.type == "cpu" and v.dtype == torch.float32 and sys.byteorder == "little":
        # rows with 0 < K < V need their invalid entries pushed first; fully valid rows and fully
        # ignored rows (padding) do not, which saves a pass in the common case
        partial = bool(((k > 0) & (k < num_labels)).any())
        order = _ascending_order_packed(v, valid if partial else None)
    else:
        keys = torch.where(valid != 0, v, torch.full((), float("-inf"), dtype=v.dtype, device=v.device))
        order = torch.sort(keys, dim=1, stable=True).indices
    # ascending position a holds descending rank V - a; the V - K invalid entries come first, so
    # every valid entry gets its rank among the valid ones
    rank = torch.arange(num_labels, 0, -1, device=v.device, dtype=v.dtype).expand(rows, num_labels)
    return torch.empty_like(v).scatter_(1, order, rank)  # order is a permutation of each row


def rank_weights(v: Tensor, valid: Tensor) -> Tensor:
    """omega [R, V]: ``2 i / (K (K + 1))`` for the entry of descending rank i among the row's K
    valid values; 0 for invalid entries and for rows without valid values. See descending_ranks."""
    if v.dim() != 2 or valid.shape != v.shape:
        raise ValueError(
            f"rank_weights expects v and valid of the same shape [R, V], got {tuple(v.shape)} and {tuple(valid.shape)}"
        )
    mask = valid.to(v.dtype)
    k = mask.sum(1, keepdim=True)  # (R, 1)
    ranks = descending_ranks(v, mask, k.squeeze(1))
    return ranks.mul_(2.0 / (k * (k + 1.0)).clamp_min(1.0)).mul_(mask)


def _ascending_order_packed(v: Tensor, valid: Tensor | None) -> Tensor:
    """int64 [R, V]: label indices of each row in ascending order of (value, index), invalid first."""
    rows, num_labels = v.shape
    keys = np.empty((rows, num_labels, 2), dtype=np.int32)
    keys[..., 0] = np.arange(num_labels, dtype=np.int32)  # low word (little-endian): the label index
    high = keys[..., 1]
    # the bits of a float32 >= 0 order like int32; clearing the sign bit makes -0.0 equal to +0.0
    np.bitwise_and(v.contiguous().numpy().view(np.int32), 0x7FFFFFFF, out=high)
    if valid is not None:
        np.copyto(high, _INT32_MIN, where=valid.contiguous().numpy() == 0)  # invalid entries sort first
    packed = keys.view(np.int64).reshape(rows, num_labels)
    _sort_rows(packed)
    np.bitwise_and(packed, 0xFFFFFFFF, out=packed)  # keep the low word: the label index, in place
    return torch.from_numpy(packed)


def _sort_rows(keys: np.ndarray) -> None:
    """Sort each row of a 2-D array in place, splitting rows over threads (NumPy releases the GIL)."""
    threads = min(torch.get_num_threads(), keys.shape[0], max(1, keys.size >> 18))
    if threads <= 1:
        keys.sort(axis=1)
        return
    bounds = np.linspace(0, keys.shape[0], threads + 1).astype(np.int64)
    chunks = [keys[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    list(_pool().map(lambda chunk: chunk.sort(axis=1), chunks))


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:  # created on first use, never at import
        _POOL = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="clincode-sort")
    return _POOL
