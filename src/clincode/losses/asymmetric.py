"""Asymmetric loss (Ridnik et al. 2021), a strong modern baseline for multi-label imbalance."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import LossModule
from .inputs import prepare
from .modulating import focusing
from .reduction import masked_mean
from .registry import LOSSES


def asymmetric_loss(
    logits: Tensor, targets: Tensor, gamma_pos: float = 0.0, gamma_neg: float = 4.0, clip: float = 0.05
) -> Tensor:
    """ASL: ``(1-p)^gamma_pos (-log p)`` on positives, ``p_m^gamma_neg (-log(1-p_m))`` on negatives.

    ``p_m = max(p - clip, 0)`` is the probability margin (hard threshold) that discards very easy
    negatives. Mean over valid entries [ours: the reference code sums; a mean keeps learning rates
    comparable across losses]. Logs use the stable forms ``-log p = softplus(-x)`` and
    ``-log(1 - p_m) = -log(min(sigmoid(-x) + clip, 1))`` instead of an eps clamp [ours], so
    gradients stay finite and non-zero at |x| = 100.
    """
    x, y, m = prepare(logits, targets)
    p = torch.sigmoid(x)
    loss_pos = F.softplus(-x)  # -log p
    f_pos = focusing(1.0 - p, gamma_pos)
    if f_pos is not None:
        loss_pos = f_pos * loss_pos
    if clip > 0:
        p_m = (p - clip).clamp_min(0.0)
        loss_neg = -torch.log((torch.sigmoid(-x) + clip).clamp_max(1.0))  # -log(1 - p_m)
    else:
        p_m = p
        loss_neg = F.softplus(x)  # -log(1 - p)
    f_neg = focusing(p_m, gamma_neg)
    if f_neg is not None:
        loss_neg = f_neg * loss_neg
    return masked_mean(torch.lerp(loss_neg, loss_pos, y), m)  # loss_pos where y = 1, else loss_neg


@LOSSES.register("asymmetric")
class AsymmetricLoss(LossModule):
    """Asymmetric loss of Ridnik et al. 2021: gamma_pos 0, gamma_neg 4, probability margin clip 0.05."""

    def __init__(self, num_labels: int, gamma_pos: float = 0.0, gamma_neg: float = 4.0, clip: float = 0.05) -> None:
        super().__init__(num_labels)
        for name, value in (("gamma_pos", gamma_pos), ("gamma_neg", gamma_neg)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not (isinstance(clip, (int, float)) and 0.0 <= clip < 1.0):
            raise ValueError(f"clip must be a number in [0, 1), got {clip!r}")
        self.gamma_pos, self.gamma_neg, self.clip = float(gamma_pos), float(gamma_neg), float(clip)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        return asymmetric_loss(logits, targets, self.gamma_pos, self.gamma_neg, self.clip)

    def _params_repr(self) -> dict[str, Any]:
        return {"gamma_pos": self.gamma_pos, "gamma_neg": self.gamma_neg, "clip": self.clip}
