"""The Bayes forecast of a synthetic cohort as a forecaster: the ceiling no forecaster beats in expectation.

It reads nothing from the training rows: the generator's latent state of each patient up to the
prediction time (the conditions active by then, their code sets, age, sex and visit schedule; the
onsets at the next visit marginalised) gives each label's probability at the next visit
(:class:`clincode.data.synthetic.oracle.CohortOracle`). Only cohorts written by ``clincode synth
ehr`` have it; on any other data the run fails with that reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

import numpy as np

from clincode.data.synthetic.oracle import CohortOracle
from clincode.forecasters.history import Histories


class _CohortForecast(Protocol):
    def probabilities(self, subject_id: np.ndarray, visit_time: np.ndarray, codes: list[str]) -> np.ndarray: ...


class CohortForecaster:
    """A forecast computed from a synthetic cohort's directory, not fitted: what ``fit`` does is
    check that the training histories come from such a cohort (subclasses name what they read).
    """

    name: ClassVar[str] = "oracle"
    reads: ClassVar[str] = "a synthetic cohort's latent state"

    @classmethod
    def open(cls, source: Path) -> _CohortForecast:
        raise NotImplementedError

    def _source(self, h: Histories) -> Path:
        if h.source is None:
            raise ValueError(f"the {self.name} forecaster reads {self.reads}; the data has no source directory")
        return h.source

    def fit(self, train: Histories, tuning: Histories | None = None) -> Self:
        self.open(self._source(train))  # fails early on data that is not a synthetic cohort
        return self

    def predict_proba(self, h: Histories) -> np.ndarray:
        forecast = self.open(self._source(h))
        return forecast.probabilities(h.subject_id[h.row_patient], h.visit_time[h.rows], list(h.label_codes)).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Self:
        return cls()


class OracleForecaster(CohortForecaster):
    """P(label at the next visit | the generator's latent state up to the row's visit)."""

    @classmethod
    def open(cls, source: Path) -> CohortOracle:
        return CohortOracle.from_cohort(source)
