"""MultitaskLoss (MARN): 0.7 x the ICD loss + 0.3 x the CCS loss, against an explicit focal loop."""

import pytest
import torch
from torch import Tensor

from clincode.losses import MultitaskLoss, build_loss


def _focal_reference(logits: Tensor, targets: Tensor, alpha: float = 0.999, gamma: float = 2.0) -> Tensor:
    """docs/methods.md section 4.4 written out: alpha (1 - p_t)^gamma * (-log p_t), mean over all entries."""
    total = torch.zeros((), dtype=torch.float64)
    for i in range(logits.shape[0]):
        for j in range(logits.shape[1]):
            p = torch.sigmoid(logits[i, j].double())
            pt = p if targets[i, j] == 1 else 1 - p
            total += -alpha * (1 - pt) ** gamma * torch.log(pt)
    return total / logits.numel()


def test_multitask_loss_is_the_07_03_combination():
    g = torch.Generator().manual_seed(0)
    icd_logits, ccs_logits = torch.randn(4, 7, generator=g) * 2, torch.randn(4, 3, generator=g) * 2
    icd_targets = (torch.rand(4, 7, generator=g) < 0.3).to(torch.int8)
    ccs_targets = (torch.rand(4, 3, generator=g) < 0.5).to(torch.int8)
    loss = MultitaskLoss(build_loss("focal_marn", 7), build_loss("focal_marn", 3), ccs_weight=0.3)
    value = loss({"icd": icd_logits, "ccs": ccs_logits}, {"icd": icd_targets, "ccs": ccs_targets})
    expected = 0.7 * _focal_reference(icd_logits, icd_targets) + 0.3 * _focal_reference(ccs_logits, ccs_targets)
    assert float(value) == pytest.approx(float(expected), rel=1e-5)
    with pytest.raises(ValueError, match="ccs_weight"):
        MultitaskLoss(build_loss("bce", 7), build_loss("bce", 3), ccs_weight=1.5)
