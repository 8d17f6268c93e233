"""Binary cross-entropy and the authors' weighted BCE (Ho et al. 2026 baseline)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import LossModule
from .frequency import FrequencyLoss, Statistics
from .inputs import prepare
from .reduction import masked_mean
from .registry import LOSSES


def bce_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Plain binary cross-entropy with logits, averaged over valid entries.

    Args:
        logits: [..., V]; targets: [..., V] in {1, 0, -1} (-1 ignored). Returns a scalar.
    """
    x, y, m = prepare(logits, targets)
    elem = F.binary_cross_entropy_with_logits(x, y, reduction="none")  # (R, V)
    return masked_mean(elem, m)


def weighted_bce_loss(
    logits: Tensor, targets: Tensor, positives: Tensor | None = None, valid_counts: Tensor | None = None
) -> Tensor:
    """The authors' weighted BCE: ``pos_weight_j = negatives_j / max(positives_j, 1)``.

    Counts are over valid entries of the mini-batch (all rows of all leading dims) unless
    ``positives`` and ``valid_counts`` [V] are given (dataset statistics [ours]). The result is
    ``BCEWithLogits(x, y, pos_weight)`` averaged over valid entries.
    """
    x, y, m = prepare(logits, targets)
    if (positives is None) != (valid_counts is None):
        raise ValueError("weighted_bce_loss needs both positives and valid_counts, or neither (batch statistics)")
    if positives is None or valid_counts is None:
        positives, valid_counts = y.sum(0), m.sum(0)  # (V,), batch counts over valid entries
    n_pos = positives.to(x.dtype)
    pos_weight = (valid_counts.to(x.dtype) - n_pos) / n_pos.clamp_min(1.0)  # (V,)
    elem = F.binary_cross_entropy_with_logits(x, y, pos_weight=pos_weight, reduction="none")
    return masked_mean(elem, m)


@LOSSES.register("bce")
class BCELoss(LossModule):
    """Binary cross-entropy with logits, mean over valid entries (the reference baseline)."""

    def __init__(self, num_labels: int) -> None:
        super().__init__(num_labels)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        return bce_loss(logits, targets)


@LOSSES.register("weighted_bce")
class WeightedBCELoss(FrequencyLoss):
    """Weighted BCE of Ho et al. 2026: pos_weight = negatives / positives per code (batch counts by default).

    ``statistics="dataset"`` [ours] uses the training counts given to ``fit`` instead.
    """

    def __init__(self, num_labels: int, statistics: Statistics = "batch") -> None:
        super().__init__(num_labels, statistics)

    def prior_probability(self, prevalence: Tensor) -> Tensor:
        """1/2 for every label with positives: with ``pos_weight = (1 - pi) / pi`` the weighted
        log-loss of a constant p, ``-(1 - pi) (log p + log(1 - p))``, is smallest at p = 1/2.
        """
        prevalence = torch.as_tensor(prevalence, dtype=torch.float64)
        return torch.where(prevalence > 0, torch.full_like(prevalence, 0.5), prevalence)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        counts = self.dataset_counts()
        if counts is None:
            return weighted_bce_loss(logits, targets)
        return weighted_bce_loss(logits, targets, *counts)
