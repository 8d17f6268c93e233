"""The base class of every loss module: validation, float32 computation, ``fit``."""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import Tensor, nn

from .stats import LabelStats, LabelStatsError
from .validation import validate_inputs


class LossModule(nn.Module):
    """A multi-label loss: ``forward(logits [..., V], targets [..., V] in {1, 0, -1}) -> scalar``.

    Subclasses implement :meth:`loss` by calling their pure function. This base class

    * validates the inputs while ``validate`` is true (set it to ``False`` on the hot path);
    * turns autocast off inside the loss, so that matrix products run in float32 too (the pure
      functions cast half / bfloat16 logits to float32; float64 stays float64);
    * provides ``fit(stats)``, a no-op unless the loss uses training statistics.
    """

    validate: bool = True

    def __init__(self, num_labels: int) -> None:
        super().__init__()
        if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 1:
            raise ValueError(f"num_labels must be an int >= 1, got {num_labels!r}")
        self.num_labels = num_labels

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        if self.validate:
            validate_inputs(logits, targets, self.num_labels)
        with _no_autocast(logits):
            return self.loss(logits, targets)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """The loss value (no validation). Shapes [..., V]; returns a scalar."""
        raise NotImplementedError

    def fit(self, stats: LabelStats) -> LossModule:
        """Fit training statistics (no-op for losses that use none); returns self."""
        self._check_stats(stats)
        return self

    def prior_probability(self, prevalence: Tensor) -> Tensor:
        """[ours] The constant prediction per label that this loss favours on data with these prevalences.

        Where ``prior_bias`` starts the model's output (docs/methods.md section 1.2). The
        prevalence itself for every loss that weighs a label's positives and negatives alike (bce,
        class-balanced BCE; the focal and asymmetric losses and the ranking losses keep it too);
        losses that reweigh positives against negatives override it.
        """
        return prevalence

    def _check_stats(self, stats: LabelStats) -> None:
        if not isinstance(stats, LabelStats):
            raise LabelStatsError(f"fit expects a LabelStats, got {type(stats).__name__}")
        if stats.num_labels != self.num_labels:
            raise LabelStatsError(
                f"LabelStats cover V = {stats.num_labels} labels but the loss was built for V = {self.num_labels}"
            )

    def _params_repr(self) -> dict[str, Any]:
        """Key parameters shown by ``extra_repr``; subclasses extend it."""
        return {}

    def extra_repr(self) -> str:
        items = {"num_labels": self.num_labels, **self._params_repr()}
        return ", ".join(f"{k}={v!r}" for k, v in items.items())


def _no_autocast(t: Tensor) -> contextlib.AbstractContextManager[Any]:
    device = t.device.type if isinstance(t, Tensor) else "cpu"
    if device not in ("cpu", "cuda", "xpu", "mps", "hpu"):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device, enabled=False)
