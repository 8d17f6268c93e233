"""Focal loss (Lin et al. 2017) in the two published forms clincode reproduces.

* ``focal``: Ho et al. 2026's baseline, alpha per code from the class-balanced weights.
* ``focal_marn``: MARN (Sun et al. 2022), a scalar alpha = 0.999 that scales every entry.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import LossModule
from .class_balanced import check_beta, class_balanced_weights
from .frequency import FrequencyLoss, Statistics
from .inputs import prepare, signs
from .modulating import focusing
from .reduction import masked_mean
from .registry import LOSSES


def _check_gamma(gamma: float) -> None:
    if not (isinstance(gamma, (int, float)) and math.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")


def focal_loss(
    logits: Tensor,
    targets: Tensor,
    gamma: float = 2.0,
    beta: float = 0.9999,
    eps: float = 1e-6,
    positives: Tensor | None = None,
) -> Tensor:
    """Ho et al.'s focal baseline: ``alpha_t (1 - p_t)^gamma BCE``, mean over valid entries.

    ``p_t = p`` for a positive, ``1 - p`` for a negative, clamped to [eps, 1 - eps] (eps = 1e-6
    [ours]: the value is not stated). ``alpha~_j = a_j / (1 + a_j)`` with a_j the class-balanced
    weights (batch positive counts, or ``positives`` [V] for dataset statistics [ours]);
    ``alpha_t = alpha~_j`` for positives and ``1 - alpha~_j`` for negatives.
    """
    x, y, m = prepare(logits, targets)
    if positives is None:
        positives = y.sum(0)  # (V,), batch counts
    a = class_balanced_weights(positives, beta)
    alpha = (a / (1.0 + a)).to(x.dtype)  # (V,)
    alpha_t = torch.addcmul(1.0 - alpha, y, 2.0 * alpha - 1.0)  # alpha for y = 1, 1 - alpha for y = 0; (R, V)
    signed = x * signs(y)  # logit of the correct outcome
    p_t = torch.sigmoid(signed).clamp(eps, 1.0 - eps)
    elem = F.softplus(-signed).mul_(alpha_t)  # BCE = -log p_t (unclamped, stable at |x| = 100)
    factor = focusing(1.0 - p_t, gamma)
    if factor is not None:
        elem = elem * factor
    return masked_mean(elem, m)


def focal_marn_loss(logits: Tensor, targets: Tensor, alpha: float = 0.999, gamma: float = 2.0) -> Tensor:
    """MARN's focal loss: ``alpha (1 - p_t)^gamma BCE`` with a scalar alpha, mean over valid entries.

    ``p_t`` is computed as sigmoid of the signed logit (no clamp) [ours: numerically stable form].
    """
    x, y, m = prepare(logits, targets)
    signed = x * signs(y)  # logit of the correct outcome
    elem = F.softplus(-signed) * alpha  # alpha * BCE
    factor = focusing(torch.sigmoid(-signed), gamma)  # 1 - p_t = sigmoid(-signed), exact in the tails
    if factor is not None:
        elem = elem * factor
    return masked_mean(elem, m)


@LOSSES.register("focal")
class FocalLoss(FrequencyLoss):
    """Focal loss as in Ho et al. 2026: gamma 2, class-balanced alpha (beta 0.9999); MARN's form is 'focal_marn'.

    Batch counts by default (the authors' form); ``statistics="dataset"`` [ours] uses ``fit``.
    """

    def __init__(
        self,
        num_labels: int,
        gamma: float = 2.0,
        beta: float = 0.9999,
        eps: float = 1e-6,
        statistics: Statistics = "batch",
    ) -> None:
        super().__init__(num_labels, statistics)
        _check_gamma(gamma)
        check_beta(beta)
        if not (0.0 <= eps < 0.5):
            raise ValueError(f"eps must be in [0, 0.5), got {eps!r}")
        self.gamma, self.beta, self.eps = float(gamma), float(beta), float(eps)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        counts = self.dataset_counts()
        positives = None if counts is None else counts[0]
        return focal_loss(logits, targets, self.gamma, self.beta, self.eps, positives)

    def _params_repr(self) -> dict[str, Any]:
        return {"gamma": self.gamma, "beta": self.beta, "eps": self.eps, **super()._params_repr()}


@LOSSES.register("focal_marn")
class MARNFocalLoss(LossModule):
    """Focal loss of MARN (Sun et al. 2022): scalar alpha 0.999 (a scale), gamma 2, mean over entries."""

    def __init__(self, num_labels: int, alpha: float = 0.999, gamma: float = 2.0) -> None:
        super().__init__(num_labels)
        _check_gamma(gamma)
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0):
            raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
        self.alpha, self.gamma = float(alpha), float(gamma)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        return focal_marn_loss(logits, targets, self.alpha, self.gamma)

    def _params_repr(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "gamma": self.gamma}
