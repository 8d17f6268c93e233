"""Shared state of the frequency-based losses: batch or dataset (fitted) label counts."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import torch
from torch import Tensor

from .base import LossModule
from .stats import LabelStats, as_tensor_counts

Statistics = Literal["batch", "dataset"]
STATISTICS = ("batch", "dataset")


def check_statistics(statistics: str) -> None:
    if statistics not in STATISTICS:
        raise ValueError(f"statistics must be one of {', '.join(map(repr, STATISTICS))}, got {statistics!r}")


class FrequencyLoss(LossModule):
    """A loss whose weights come from per-label counts: of the mini-batch or of the training split.

    ``statistics="batch"`` (the authors' implementation, the default for the Ho et al. baselines)
    counts over the valid entries of the current mini-batch. ``statistics="dataset"`` [ours] uses
    the counts given to :meth:`fit` (training split); until fitted it falls back to batch counts
    and warns once. Fitted counts are buffers, so they are saved in ``state_dict()``.
    """

    positives_: Tensor  # buffers
    valid_: Tensor
    fitted_: Tensor

    def __init__(self, num_labels: int, statistics: Statistics) -> None:
        super().__init__(num_labels)
        check_statistics(statistics)
        self.statistics = statistics
        self.register_buffer("positives_", torch.zeros(num_labels, dtype=torch.int64))
        self.register_buffer("valid_", torch.zeros(num_labels, dtype=torch.int64))
        self.register_buffer("fitted_", torch.tensor(False))
        self._fitted = False
        self._warned = False
        self.register_load_state_dict_post_hook(_sync_fitted_flag)

    def fit(self, stats: LabelStats) -> FrequencyLoss:
        """Store the training counts; they are used only when built with ``statistics="dataset"``."""
        self._check_stats(stats)
        if self.statistics == "dataset":
            device = self.positives_.device
            self.positives_.copy_(as_tensor_counts(stats.positives).to(device))
            self.valid_.copy_(as_tensor_counts(stats.valid).to(device))
            self.fitted_.fill_(True)
            self._fitted = True
        return self

    def dataset_counts(self) -> tuple[Tensor, Tensor] | None:
        """(positives [V], valid [V]) to use, or None for batch statistics."""
        if self.statistics != "dataset":
            return None
        if not self._fitted:
            if not self._warned:
                warnings.warn(
                    f"{type(self).__name__} was built with statistics='dataset' but never fitted; using "
                    "mini-batch statistics until loss.fit(LabelStats) is called",
                    stacklevel=3,
                )
                self._warned = True
            return None
        return self.positives_, self.valid_

    def _params_repr(self) -> dict[str, Any]:
        return {"statistics": self.statistics, "fitted": self._fitted}


def _sync_fitted_flag(module: Any, incompatible_keys: Any) -> None:
    module._fitted = bool(module.fitted_)
