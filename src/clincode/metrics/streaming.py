"""Constant-memory micro AUPRC for validation during training.

Scores are binned into ``bins`` equal-width probability bins; positive and negative counts per bin
are accumulated over batches, and average precision is computed over the bin edges as thresholds
(a step-wise PR curve; ties within a bin are treated as one threshold). With 10,000 bins this is
within about 1e-3 of the exact value on typical data (tested) at O(entries) cost per batch and
O(bins) memory, whatever the validation size. The exact metrics come after training.
"""

from __future__ import annotations

import torch
from torch import Tensor


class BinnedMicroAP:
    def __init__(self, bins: int = 10_000) -> None:
        self.bins = bins
        self.reset()

    def reset(self) -> None:
        self.pos = torch.zeros(self.bins, dtype=torch.float64)
        self.neg = torch.zeros(self.bins, dtype=torch.float64)

    @torch.no_grad()
    def update(self, probs: Tensor, targets: Tensor) -> None:
        """probs, targets [..., V]; entries with target -1 are ignored."""
        valid = targets != -1
        p = probs[valid].float().detach().cpu()
        y = targets[valid].cpu() == 1
        idx = (p * self.bins).long().clamp_(0, self.bins - 1)
        self.pos += torch.bincount(idx[y], minlength=self.bins).double()
        self.neg += torch.bincount(idx[~y], minlength=self.bins).double()

    def compute(self) -> float:
        # thresholds from the highest bin down: cumulative TP and predicted positives
        tp = self.pos.flip(0).cumsum(0)
        pp = tp + self.neg.flip(0).cumsum(0)
        total = float(self.pos.sum())
        if total == 0:
            return float("nan")
        precision = torch.where(pp > 0, tp / pp.clamp(min=1), torch.zeros_like(tp))
        recall_gain = self.pos.flip(0) / total
        return float((precision * recall_gain).sum())

    def state(self) -> tuple[Tensor, Tensor]:
        return self.pos, self.neg

    def merge(self, pos: Tensor, neg: Tensor) -> None:
        self.pos += pos.to(self.pos)
        self.neg += neg.to(self.neg)


class DecisionCounts05:
    """Per-label TP / predicted / gold counts at the fixed 0.5 rule, for validation F1 in O(V) memory.

    Definitions as in :mod:`clincode.metrics.decision`: per-label F1 = 2 TP / (predicted + gold),
    macro F1 = mean over labels with at least one gold positive in the split (MARN's early-stopping
    metric is validation macro-F1); micro F1 over all valid entries.
    """

    def __init__(self, num_labels: int, threshold: float = 0.5) -> None:
        self.num_labels = num_labels
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        self.counts = torch.zeros(3, self.num_labels, dtype=torch.float64)  # tp, predicted, gold

    @torch.no_grad()
    def update(self, probs: Tensor, targets: Tensor) -> None:
        """probs, targets [..., V]; entries with target -1 are ignored."""
        p = probs.detach().reshape(-1, self.num_labels).cpu()
        y = targets.detach().reshape(-1, self.num_labels).cpu()
        valid = y != -1
        pred = (p >= self.threshold) & valid
        gold = (y == 1) & valid
        self.counts[0] += (pred & gold).sum(0).double()
        self.counts[1] += pred.sum(0).double()
        self.counts[2] += gold.sum(0).double()

    def merge(self, counts: Tensor) -> None:
        self.counts += counts.to(self.counts)

    def compute(self) -> tuple[float, float]:
        """(macro F1, micro F1); NaN when the split has no gold positive."""
        tp, pp, pos = self.counts
        used = pos > 0
        if not bool(used.any()):
            return float("nan"), float("nan")
        f1 = 2 * tp / (pp + pos).clamp(min=1)
        macro = float(f1[used].mean())
        micro = float(2 * tp.sum() / (pp.sum() + pos.sum()).clamp(min=1))
        return macro, micro
