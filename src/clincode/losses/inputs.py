"""Shared input preparation: flatten leading dims, pick the compute dtype, derive the masks.

Masks are float tensors (1.0 / 0.0) rather than bool: on the CPU, arithmetic with float masks
is several times faster than ``torch.where`` or reductions over bool tensors, and every loss
here is a handful of passes over [R, V].
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class Prepared(NamedTuple):
    """Inputs of a loss in the form every functional uses, all [R, V] in the compute dtype.

    x: logits; y: 1.0 where the target is 1, else 0.0; m: 1.0 where the target is not -1
    (valid), else 0.0. So y * m == y, and the negatives are m - y.
    """

    x: Tensor
    y: Tensor
    m: Tensor


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half, bfloat16 and float32 input; float64 stays float64 (needed by gradcheck)."""
    return torch.promote_types(dtype, torch.float32)


def prepare(logits: Tensor, targets: Tensor) -> Prepared:
    """Flatten [..., V] to [R, V] (R = product of the leading dims) and build the float masks."""
    num_labels = logits.shape[-1]
    dtype = compute_dtype(logits.dtype)
    x = logits.reshape(-1, num_labels).to(dtype)
    t = targets.reshape(-1, num_labels)
    converted = t.to(dtype)
    if targets.dtype == torch.bool:
        return Prepared(x, converted, torch.ones_like(converted))
    # t in {1, 0, -1}: y = max(t, 0) and m = min(t + 1, 1), cheap passes with no comparisons;
    # m reuses the converted copy when there is one (never the caller's tensor)
    y = converted.clamp_min(0.0)
    if converted.data_ptr() == t.data_ptr():
        m = (converted + 1.0).clamp_max_(1.0)
    else:
        m = converted.add_(1.0).clamp_max_(1.0)
    return Prepared(x, y, m)


def signs(y: Tensor) -> Tensor:
    """+1.0 where y == 1, -1.0 elsewhere: ``sigmoid(signs * x)`` is the probability of the correct outcome."""
    return (y * 2.0).sub_(1.0)
