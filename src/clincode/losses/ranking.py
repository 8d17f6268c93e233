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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

_INT32_MIN = np.iinfo(np.int32).min
_POOL: ThreadPoolExecutor | None = None


def descending_ranks(v: Tensor, invalid: Tensor | None = None, out: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Each valid entry's 1-based rank among its row's valid values, largest first.

    Args:
        v: [R, V] values, >= 0 where valid (the weighted correctness is); no gradient is tracked.
        invalid: bool [R, V] marking entries to leave out, or None when every row is either fully
            valid or fully ignored (padding): then no entry needs to be pushed aside.
        out: optional float [R, V] buffer (dtype of v) to write the ranks into.

    Returns:
        (ranks, spent): ranks float [R, V] (entries that are not valid get ranks above K,
        meaningless: callers multiply them by zero), and the int64 [R, V] sort buffer, free
        for the caller to reuse as scratch memory.

    Ties are ranked by label index: the lower index gets the larger rank, as a stable ascending
    sort would place it first; any tie order gives the same weighted sum.
    """
    v = v.detach()
    rows, num_labels = v.shape
    if v.device.type == "cpu" and v.dtype == torch.float32 and sys.byteorder == "little":
        order = _ascending_order_packed(v, invalid)
    else:
        keys = v if invalid is None else v.masked_fill(invalid, float("-inf"))
        order = torch.sort(keys, dim=1, stable=True).indices
    # ascending position a holds descending rank V - a; the V - K invalid entries come first, so
    # every valid entry gets its rank among the valid ones
    rank = torch.arange(num_labels, 0, -1, device=v.device, dtype=v.dtype).expand(rows, num_labels)
    out = torch.empty_like(v) if out is None else out
    return out.scatter_(1, order, rank), order  # order is a permutation of each row


def rank_weights(v: Tensor, valid: Tensor) -> Tensor:
    """omega [R, V]: ``2 i / (K (K + 1))`` for the entry of descending rank i among the row's K
    valid values; 0 for invalid entries and for rows without valid values. See descending_ranks.
    """
    if v.dim() != 2 or valid.shape != v.shape:
        raise ValueError(
            f"rank_weights expects v and valid of the same shape [R, V], got {tuple(v.shape)} and {tuple(valid.shape)}"
        )
    mask = valid.to(v.dtype)
    k = mask.sum(1, keepdim=True)  # (R, 1)
    ranks, _ = descending_ranks(v, mask == 0)
    return ranks.mul_(2.0 / (k * (k + 1.0)).clamp_min(1.0)).mul_(mask)


def _ascending_order_packed(v: Tensor, invalid: Tensor | None) -> Tensor:
    """int64 [R, V]: label indices of each row in ascending order of (value, index), invalid first.

    Packing, sorting and unpacking run per block of rows in a few threads (NumPy releases the
    GIL), so the whole step scales with the cores like the matrix products around it.
    """
    rows, num_labels = v.shape
    keys = np.empty((rows, num_labels, 2), dtype=np.int32)
    packed = keys.view(np.int64).reshape(rows, num_labels)
    values = v.contiguous().numpy().view(np.int32)
    skip = None if invalid is None else invalid.contiguous().numpy()
    labels = np.arange(num_labels, dtype=np.int32)

    def work(a: int, b: int) -> None:
        keys[a:b, :, 0] = labels  # low word (little-endian): the label index, breaks ties
        high = keys[a:b, :, 1]
        # the bits of a float32 >= 0 order like int32; clearing the sign bit makes -0.0 == +0.0
        np.bitwise_and(values[a:b], 0x7FFFFFFF, out=high)
        if skip is not None:
            np.copyto(high, _INT32_MIN, where=skip[a:b])  # ignored entries sort first
        block = packed[a:b]
        block.sort(axis=1)
        np.bitwise_and(block, 0xFFFFFFFF, out=block)  # keep the low word: the label index

    _run_in_blocks(work, rows, packed.size)
    return torch.from_numpy(packed)


def _run_in_blocks(work: Callable[[int, int], None], rows: int, size: int) -> None:
    """Call ``work(a, b)`` on contiguous blocks of rows, in parallel when the array is large."""
    threads = min(torch.get_num_threads(), rows, max(1, size >> 18))
    if threads <= 1:
        work(0, rows)
        return
    bounds = np.linspace(0, rows, threads + 1).astype(np.int64)
    futures = [_pool().submit(work, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    for future in futures:
        future.result()


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:  # created on first use, never at import
        _POOL = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="clincode-sort")
    return _POOL
