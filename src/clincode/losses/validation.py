"""Cheap checks of a loss's inputs, kept in one place so the hot path can skip them.

Every loss module calls :func:`validate_inputs` from ``forward`` while its ``validate`` attribute
is true (the default); a trainer that has seen a few good batches may set it to ``False``.
"""

from __future__ import annotations

import torch
from torch import Tensor


class LossInputError(ValueError):
    """A loss received logits or targets of the wrong shape, dtype or values."""


def validate_inputs(logits: Tensor, targets: Tensor, num_labels: int) -> None:
    """Raise :class:`LossInputError` unless ``logits`` and ``targets`` are a valid pair.

    Args:
        logits: floating tensor [..., V], finite.
        targets: tensor [..., V] (same shape) with values in {1, 0, -1}; -1 means "ignore".
        num_labels: the V the loss was built for.

    Cost: one pass over each tensor (no Python loops), plus one host sync for the flags.
    """
    if not isinstance(logits, Tensor):
        raise LossInputError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if not isinstance(targets, Tensor):
        raise LossInputError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    if not logits.is_floating_point():
        raise LossInputError(f"logits must be a floating-point tensor, got dtype {logits.dtype}")
    if logits.dim() < 1:
        raise LossInputError("logits must have shape [..., V] with at least one dimension, got a scalar")
    if tuple(targets.shape) != tuple(logits.shape):
        raise LossInputError(
            f"targets shape {tuple(targets.shape)} must equal logits shape {tuple(logits.shape)}"
        )
    if logits.shape[-1] != num_labels:
        raise LossInputError(
            f"logits last dimension is {logits.shape[-1]} but the loss was built for V = {num_labels} labels"
        )
    if targets.is_complex() or logits.is_complex():
        raise LossInputError("logits and targets must be real tensors")
    if logits.numel() == 0:
        return
    if targets.dtype == torch.bool:
        bad_targets = torch.zeros((), dtype=torch.bool, device=targets.device)
    elif targets.is_floating_point():
        # catches NaN targets too (NaN != round(NaN))
        bad_targets = ((targets != targets.round()) | (targets.abs() > 1)).any()
    else:
        bad_targets = ((targets < -1) | (targets > 1)).any()
    bad_logits = ~torch.isfinite(logits).all()
    flags = torch.stack([bad_targets, bad_logits]).tolist()  # one host sync for both checks
    if flags[0]:
        raise LossInputError("targets must only hold the values 1 (positive), 0 (negative) and -1 (ignored)")
    if flags[1]:
        raise LossInputError("logits must be finite, but they contain NaN or infinite values")
