"""Segmented Harmonic loss and its focal form (Ray et al. 2023, docs/methods.md section 3.2).

For segment r of the frequency segmentation, ``SH(q_r) = -(1/beta_SH_r) sum_i log q_r,i`` and
``SH-focal(q_r) = -(1/beta_SH_r) sum_i (1 - q_r,i)^gamma log q_r,i``, where q is the probability
given to the correct outcome. [ours, until the paper's exact beta is known]: a row is a negative
sample of segment r when it has no positive label in r; ``beta_SH_r`` = (negative samples of r) /
(positive samples of r); the terms of a negative sample are multiplied by ``1/beta_SH_r``, those of
a positive sample by 1. With one head over all V labels, the segments' losses are added entry by
entry and averaged over valid entries [ours: the paper trains one model per segment].
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from clincode.labels import Segmenter

from .base import LossModule
from .frequency import Statistics, check_statistics
from .inputs import prepare, signs
from .modulating import focusing
from .reduction import masked_mean
from .registry import LOSSES
from .stats import LabelStats, LabelStatsError


def _inverse_beta(n_pos: Tensor, n_neg: Tensor) -> Tensor:
    """1 / beta_SH = positive samples / negative samples, both clamped to >= 1 [ours: avoids 0/0]."""
    return n_pos.clamp_min(1) / n_neg.clamp_min(1)


def _segment_positive(y: Tensor, segment_ids: Tensor, num_segments: int) -> Tensor:
    """bool [R, S]: does the row have a positive label in segment s (one small matmul, no loop)?"""
    onehot = F.one_hot(segment_ids, num_segments).to(y.dtype)  # (V, S)
    return (y @ onehot) > 0


def batch_segment_weights(y: Tensor, m: Tensor, eta: float) -> tuple[Tensor, Tensor]:
    """Segments and 1/beta_SH from the mini-batch itself (the fallback without training statistics).

    Label counts are the batch's positives; segments come from :class:`Segmenter` (on the CPU,
    one host sync); rows count when they have a valid label. ``y``, ``m``: float [R, V].
    Returns segment_ids int64 [V] and inv_beta [S] (float64), on ``y.device``.
    """
    counts = y.sum(0).cpu().numpy()
    segment_ids = torch.as_tensor(Segmenter(eta).fit(counts).segment_of_, device=y.device)
    num_segments = int(segment_ids.max()) + 1
    has = _segment_positive(y, segment_ids, num_segments)  # (R, S)
    n_pos = has.sum(0).to(torch.float64)
    n_neg = (m.sum(1) > 0).sum().to(torch.float64) - n_pos
    return segment_ids, _inverse_beta(n_pos, n_neg)


def dataset_segment_weights(stats: LabelStats, eta: float) -> tuple[np.ndarray, np.ndarray]:
    """Segments (from training counts) and 1/beta_SH per segment from the training rows (CSR)."""
    if stats.indptr is None or stats.indices is None:
        raise LabelStatsError(
            "SH losses need each training row's positive labels to count negative samples per segment; "
            "build LabelStats with keep_rows=True"
        )
    segment_of = Segmenter(eta).fit(stats.positives).segment_of_
    num_segments = int(segment_of.max()) + 1
    row = np.repeat(np.arange(stats.n_rows, dtype=np.int64), np.diff(stats.indptr))
    pairs = np.unique(row * num_segments + segment_of[stats.indices])  # (row, segment) with a positive
    n_pos = np.bincount(pairs % num_segments, minlength=num_segments).astype(np.float64)
    n_neg = stats.n_rows - n_pos
    inv_beta = np.maximum(n_pos, 1.0) / np.maximum(n_neg, 1.0)
    return segment_of, inv_beta


def segmented_harmonic_loss(
    logits: Tensor,
    targets: Tensor,
    segment_ids: Tensor | None = None,
    inv_beta: Tensor | None = None,
    gamma: float = 0.0,
    eta: float = 0.5,
) -> Tensor:
    """SH (gamma = 0) or SH-focal (gamma > 0) loss, mean over valid entries.

    Args:
        logits, targets: [..., V]; targets in {1, 0, -1}.
        segment_ids: int64 [V] in [0, S), the segment of each label; inv_beta: [S], 1/beta_SH per
            segment. Both None: segments and beta from the mini-batch (``eta`` for the segmenter).
        gamma: focusing exponent (0 gives plain SH).
    """
    x, y, m = prepare(logits, targets)
    if (segment_ids is None) != (inv_beta is None):
        raise ValueError("segmented_harmonic_loss needs both segment_ids and inv_beta, or neither (batch statistics)")
    if segment_ids is None or inv_beta is None:
        segment_ids, inv_beta = batch_segment_weights(y, m, eta)
    has = _segment_positive(y, segment_ids, inv_beta.numel()).to(x.dtype)  # (R, S)
    inv_beta = inv_beta.to(x.dtype)
    row_weight = torch.addcmul(inv_beta, has, 1.0 - inv_beta)  # 1 for a positive sample, else 1/beta; (R, S)
    weight = row_weight.index_select(1, segment_ids)  # (R, V): each entry gets its segment's weight
    signed = x * signs(y)  # logit of the correct outcome: q = sigmoid(signed)
    elem = F.softplus(-signed).mul_(weight)  # -log q, weighted
    factor = focusing(torch.sigmoid(-signed), gamma)  # (1 - q)^gamma
    if factor is not None:
        elem = elem * factor
    return masked_mean(elem, m)


@LOSSES.register("sh")
class SegmentedHarmonicLoss(LossModule):
    """Segmented Harmonic loss (Ray et al. 2023): negatives of segment r weighted by 1/beta_SH_r, eta_S 0.5.

    ``fit(stats)`` segments the labels by training frequency and fits beta_SH on the training
    rows (``statistics="dataset"``, the default). Unfitted, or with ``statistics="batch"``, the
    segments and beta come from each mini-batch (warns once when a fit was expected).
    """

    _gamma_default = 0.0

    segment_ids_: Tensor  # buffers
    inv_beta_: Tensor
    num_segments_: Tensor

    def __init__(self, num_labels: int, eta: float = 0.5, statistics: Statistics = "dataset") -> None:
        super().__init__(num_labels)
        Segmenter(eta)  # validates eta
        check_statistics(statistics)
        self.eta, self.statistics = float(eta), statistics
        self.gamma = self._gamma_default
        self.register_buffer("segment_ids_", torch.zeros(num_labels, dtype=torch.int64))
        self.register_buffer("inv_beta_", torch.ones(num_labels, dtype=torch.float64))
        self.register_buffer("num_segments_", torch.tensor(0, dtype=torch.int64))
        self._num_segments = 0
        self._warned = False
        self.register_load_state_dict_post_hook(_sync_num_segments)

    def fit(self, stats: LabelStats) -> SegmentedHarmonicLoss:
        """Fit segments and beta_SH on training statistics (kept in buffers, saved with the loss)."""
        self._check_stats(stats)
        if self.statistics != "dataset":
            return self
        segment_of, inv_beta = dataset_segment_weights(stats, self.eta)
        device = self.segment_ids_.device
        self.segment_ids_.copy_(torch.as_tensor(segment_of, device=device))
        self.inv_beta_.fill_(1.0)
        self.inv_beta_[: inv_beta.size].copy_(torch.as_tensor(inv_beta, device=device))
        self.num_segments_.fill_(inv_beta.size)
        self._num_segments = int(inv_beta.size)
        return self

    def segments(self) -> list[np.ndarray]:
        """The fitted segments as arrays of label indices (segment 0 = the rarest labels)."""
        ids = self.segment_ids_.cpu().numpy()
        return [np.flatnonzero(ids == s) for s in range(self._num_segments)]

    def inverse_beta(self) -> np.ndarray:
        """The fitted 1/beta_SH per segment, float64 [S]."""
        return self.inv_beta_[: self._num_segments].cpu().numpy()

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        if self.statistics == "dataset" and self._num_segments == 0 and not self._warned:
            warnings.warn(
                f"{type(self).__name__} was not fitted on training statistics; using mini-batch segments and "
                "beta_SH until loss.fit(LabelStats) is called",
                stacklevel=3,
            )
            self._warned = True
        if self.statistics == "dataset" and self._num_segments > 0:
            inv_beta = self.inv_beta_[: self._num_segments]
            return segmented_harmonic_loss(logits, targets, self.segment_ids_, inv_beta, self.gamma, self.eta)
        return segmented_harmonic_loss(logits, targets, None, None, self.gamma, self.eta)

    def _params_repr(self) -> dict[str, Any]:
        out: dict[str, Any] = {"eta": self.eta, "statistics": self.statistics, "segments": self._num_segments}
        if self.gamma:
            out["gamma"] = self.gamma
        return out


@LOSSES.register("sh_focal")
class SegmentedHarmonicFocalLoss(SegmentedHarmonicLoss):
    """Segmented Harmonic focal loss (Ray et al. 2023): SH with the focal factor (1 - q)^gamma, gamma 2.

    gamma = 2 [ours: the paper does not state it; Lin et al.'s default]. Statistics as for 'sh'.
    """

    def __init__(
        self, num_labels: int, eta: float = 0.5, gamma: float = 2.0, statistics: Statistics = "dataset"
    ) -> None:
        super().__init__(num_labels, eta, statistics)
        if not (isinstance(gamma, (int, float)) and math.isfinite(gamma) and gamma >= 0):
            raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")
        self.gamma = float(gamma)


def _sync_num_segments(module: Any, incompatible_keys: Any) -> None:
    module._num_segments = int(module.num_segments_)

