"""Label descriptions as model inputs: validation and masked mean pooling.

Descriptions reach a model through ``model.set_label_descriptions(desc_ids, desc_mask)`` (called
by the training path after the model is built): ``desc_ids`` LongTensor [V, L] are the label
descriptions tokenised with the run's TextVocab (PAD 0, right-padded) in label-column order, and
``desc_mask`` BoolTensor [V, L] is True on real tokens, a prefix of each row. A label without a
description (code missing from the code tables) has an all-False row.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_label_descriptions(desc_ids: Tensor, desc_mask: Tensor, num_labels: int, vocab_size: int) -> tuple[Tensor, Tensor]:
    """Validate label descriptions; return (ids [V, L] long, mask [V, L] bool).

    Raises ValueError naming the tensor and the expectation: wrong rank or shape, ids outside
    [0, vocab_size), or a mask that is not a prefix of its row.
    """
    ids = torch.as_tensor(desc_ids)
    mask = torch.as_tensor(desc_mask)
    if ids.dim() != 2 or ids.shape[0] != num_labels or ids.shape[1] < 1:
        raise ValueError(f"desc_ids must be [V, L] with V = {num_labels} labels and L >= 1, got {tuple(ids.shape)}")
    if mask.shape != ids.shape:
        raise ValueError(f"desc_mask must have the shape of desc_ids {tuple(ids.shape)}, got {tuple(mask.shape)}")
    if ids.dtype.is_floating_point or ids.dtype == torch.bool:
        raise ValueError(f"desc_ids must hold integer token ids, got dtype {ids.dtype}")
    ids, mask = ids.long(), mask.bool()
    real = ids[mask]
    if real.numel() and (int(real.min()) < 0 or int(real.max()) >= vocab_size):
        raise ValueError(
            f"desc_ids must lie in [0, {vocab_size}) (the model's vocabulary), got {int(real.min())}..{int(real.max())}"
        )
    # A prefix mask never switches back from False to True along a row.
    if bool((mask[:, 1:] & ~mask[:, :-1]).any()):
        raise ValueError("desc_mask must be True on a prefix of each row (right-padded descriptions)")
    return ids.masked_fill(~mask, 0), mask


def masked_mean(h: Tensor, mask: Tensor) -> Tensor:
    """Mean over real tokens: h [N, L, D], mask [N, L] -> [N, D]; rows without tokens give 0."""
    weights = mask.to(h.dtype).unsqueeze(-1)
    return (h * weights).sum(1) / weights.sum(1).clamp(min=1.0)
