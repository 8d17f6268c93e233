"""MARN's multitask objective: a weighted sum of an ICD-head loss and a CCS-head loss.

Sun et al. 2022 (docs/methods.md section 4.4): ``L = 0.7 * L_ICD + 0.3 * L_CCS``, here
``(1 - ccs_weight) * L_icd + ccs_weight * L_ccs``. Each part is any registered loss, built for its
own label count and fitted on its own training statistics.
"""

from __future__ import annotations

from torch import Tensor, nn

from .base import LossModule
from .stats import LabelStats


class MultitaskLoss(nn.Module):
    """``forward({"icd": [..., V], "ccs": [..., C]}, {"icd": targets, "ccs": targets}) -> scalar``."""

    def __init__(self, icd: LossModule, ccs: LossModule, ccs_weight: float = 0.3) -> None:
        super().__init__()
        if not 0.0 <= float(ccs_weight) <= 1.0:
            raise ValueError(f"ccs_weight must lie in [0, 1], got {ccs_weight}")
        self.icd = icd
        self.ccs = ccs
        self.ccs_weight = float(ccs_weight)

    @property
    def validate(self) -> bool:
        return bool(self.icd.validate or self.ccs.validate)

    @validate.setter
    def validate(self, value: bool) -> None:
        self.icd.validate = value
        self.ccs.validate = value

    def parts(self, logits: dict[str, Tensor], targets: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """(L_icd, L_ccs), each the scalar of its own loss."""
        for key in ("icd", "ccs"):
            if key not in logits or key not in targets:
                raise ValueError(f"MultitaskLoss needs logits and targets for {key!r}; got {sorted(logits)} and {sorted(targets)}")
        return self.icd(logits["icd"], targets["icd"]), self.ccs(logits["ccs"], targets["ccs"])

    def combine(self, icd: Tensor, ccs: Tensor) -> Tensor:
        return (1.0 - self.ccs_weight) * icd + self.ccs_weight * ccs

    def forward(self, logits: dict[str, Tensor], targets: dict[str, Tensor]) -> Tensor:
        return self.combine(*self.parts(logits, targets))

    def fit(self, icd_stats: LabelStats, ccs_stats: LabelStats) -> MultitaskLoss:
        """Fit each part on the training statistics of its own labels; returns self."""
        self.icd.fit(icd_stats)
        self.ccs.fit(ccs_stats)
        return self

    def extra_repr(self) -> str:
        return f"ccs_weight={self.ccs_weight}"
