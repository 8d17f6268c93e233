"""The one masked reduction every loss ends with."""

from __future__ import annotations

import torch
from torch import Tensor


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` over the entries where ``mask`` is non-zero (1.0 valid, 0.0 ignored).

    Args:
        values: per-entry [R, V] or per-row [R] losses; must be finite everywhere (an ignored
            entry is multiplied by 0, and 0 * inf would be NaN).
        mask: float (or bool) tensor of the same shape.

    Returns:
        A scalar. With no valid entry it is a differentiable zero: it stays attached to the graph
        (``backward`` works and gives zero gradients) instead of 0/0 = NaN.
    """
    mask = mask.to(values.dtype)
    total = torch.dot(values.reshape(-1), mask.reshape(-1))
    return total / mask.sum().clamp_min(1.0)
