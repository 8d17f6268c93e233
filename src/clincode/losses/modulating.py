"""The focusing factor base ** gamma with gradients that stay finite at base = 0."""

from __future__ import annotations

import torch
from torch import Tensor


def focusing(base: Tensor, gamma: float) -> Tensor | None:
    """``base ** gamma`` for base in [0, 1]; None when gamma == 0 (factor 1, skip the multiply).

    For 0 < gamma < 1 the derivative is infinite at base = 0; those entries get a zero factor
    and zero gradient instead of 0 * inf = NaN.
    """
    if gamma == 0:
        return None
    if gamma >= 1:
        return base.pow(gamma)
    tiny = torch.finfo(base.dtype).tiny
    return torch.where(base > 0, base.clamp_min(tiny).pow(gamma), torch.zeros((), dtype=base.dtype, device=base.device))
