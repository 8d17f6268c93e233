"""The Bayes forecast of a synthetic cohort as a forecaster: the ceiling no forecaster beats in expectation.

It reads nothing from the training rows: the generator's latent state of each patient up to the
prediction time (the conditions active by then, their code sets, age, sex and visit schedule; the
onsets at the next visit marginalised) gives each label's probability at the next visit
(:class:`clincode.data.synthetic.oracle.CohortOracle`). Only cohorts written by ``clincode synth
ehr`` have it; on any other data the run fails with that reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clincode.data.synthetic.oracle import CohortOracle
from clincode.forecasters.history import Histories


class OracleForecaster:
    """P(label at the next visit | the generator's latent state up to the row's visit)."""

    def fit(self, train: Histories, tuning: Histories | None = None) -> OracleForecaster:
        if train.source is None:
            raise ValueError("the oracle forecaster reads a synthetic cohort's latent state; the data has no source directory")
        CohortOracle.from_cohort(train.source)  # fails early on data that is not a synthetic cohort
        return self

    def predict_proba(self, h: Histories) -> np.ndarray:
        if h.source is None:
            raise ValueError("the oracle forecaster reads a synthetic cohort's latent state; the data has no source directory")
        oracle = CohortOracle.from_cohort(h.source)
        return oracle.probabilities(h.subject_id[h.row_patient], h.visit_time[h.rows], list(h.label_codes)).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> OracleForecaster:
        return cls()
