"""The generator's Bayes forecast from the history alone as a forecaster [ours]: a synthetic cohort's history ceiling.

Where the oracle (:mod:`clincode.forecasters.oracle`) reads the latent state, this forecaster reads
only what a forecaster sees (the codes of the visits up to the prediction time, sex and age) and
the generator's parameters (:class:`clincode.data.synthetic.history_bayes.HistoryBayes`). Between
the repeat table and the oracle it marks what the history holds: a forecaster that learns from the
history can reach it, none can beat it in expectation. Only cohorts written by ``clincode synth
ehr`` without disease progression have it; on any other data the run fails with that reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clincode.data.synthetic.history_bayes import HistoryBayes
from clincode.forecasters.history import Histories


class HistoryBayesForecaster:
    """P(label at the next visit | the codes of the visits up to the row's, sex, ages) under the generator's model."""

    def fit(self, train: Histories, tuning: Histories | None = None) -> HistoryBayesForecaster:
        if train.source is None:
            raise ValueError("the history_bayes forecaster reads a synthetic cohort's parameters; the data has no source directory")
        HistoryBayes.from_cohort(train.source)  # fails early on data that is not such a cohort
        return self

    def predict_proba(self, h: Histories) -> np.ndarray:
        if h.source is None:
            raise ValueError("the history_bayes forecaster reads a synthetic cohort's parameters; the data has no source directory")
        bayes = HistoryBayes.from_cohort(h.source)
        return bayes.probabilities(h.subject_id[h.row_patient], h.visit_time[h.rows], list(h.label_codes))

    def to_dict(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> HistoryBayesForecaster:
        return cls()
