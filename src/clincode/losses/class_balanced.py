"""Class-balanced BCE (Cui et al. 2019) as implemented by Ho et al. 2026 for their baselines."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .frequency import FrequencyLoss, Statistics
from .inputs import prepare
from .reduction import masked_mean
from .registry import LOSSES


def check_beta(beta: float) -> None:
    if not (isinstance(beta, (int, float)) and math.isfinite(beta) and 0.0 <= beta < 1.0):
        raise ValueError(f"beta must be a number in [0, 1), got {beta!r}")


def class_balanced_weights(positives: Tensor, beta: float = 0.9999) -> Tensor:
    """Class-balanced weights a_j [V] from positive counts n_j [V], normalised to mean 1 over codes.

    ``a_j = (1 - beta) / (1 - beta ** max(n_j, 1))`` (the effective number of samples of Cui
    et al.). Computed in float64: ``1 - beta ** n`` loses most of its digits in float32 when
    beta = 0.9999 and n is small. Returned in float64; callers cast.
    """
    check_beta(beta)
    n = positives.to(torch.float64).clamp_min(1.0)
    if beta == 0.0:
        a = torch.ones_like(n)
    else:
        # 1 - beta**n = -expm1(n * log(beta)), accurate for beta close to 1
        a = (1.0 - beta) / -torch.expm1(n * math.log(beta))
    return a / a.mean()


def class_balanced_loss(
    logits: Tensor, targets: Tensor, beta: float = 0.9999, positives: Tensor | None = None
) -> Tensor:
    """``a_j * BCE`` on positives and negatives alike, averaged over valid entries.

    ``positives`` [V]: dataset counts [ours]; None counts the positives of the mini-batch (the
    authors' implementation).
    """
    x, y, m = prepare(logits, targets)
    if positives is None:
        positives = y.sum(0)  # (V,), batch counts
    a = class_balanced_weights(positives, beta).to(x.dtype)  # (V,)
    elem = F.binary_cross_entropy_with_logits(x, y, weight=a, reduction="none")  # a_j * BCE, (R, V)
    return masked_mean(elem, m)


@LOSSES.register("class_balanced")
class ClassBalancedLoss(FrequencyLoss):
    """Class-balanced BCE (Cui et al. 2019) as in Ho et al. 2026: beta 0.9999, weights normalised to mean 1.

    Batch counts by default (the authors' form); ``statistics="dataset"`` [ours] uses ``fit``.
    """

    def __init__(self, num_labels: int, beta: float = 0.9999, statistics: Statistics = "batch") -> None:
        super().__init__(num_labels, statistics)
        check_beta(beta)
        self.beta = float(beta)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        counts = self.dataset_counts()
        return class_balanced_loss(logits, targets, self.beta, None if counts is None else counts[0])

    def _params_repr(self) -> dict[str, Any]:
        return {"beta": self.beta, **super()._params_repr()}
