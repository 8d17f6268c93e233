"""The generator's Bayes forecast from the history alone as a forecaster [ours]: a synthetic cohort's history ceiling.

Where the oracle (:mod:`clincode.forecasters.oracle`) reads the latent state, this forecaster reads
only what a forecaster sees (the codes of the visits up to the prediction time, sex and age) and
the generator's parameters (:class:`clincode.data.synthetic.history_bayes.HistoryBayes`). Between
the repeat table and the oracle it marks what the history holds: a forecaster that learns from the
history can reach it, none can beat it in expectation (up to that forecast's stated
approximations). Only cohorts written by ``clincode synth ehr`` have it; on any other data the run
fails with that reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from clincode.data.synthetic.history_bayes import HistoryBayes
from clincode.forecasters.oracle import CohortForecaster


class HistoryBayesForecaster(CohortForecaster):
    """P(label at the next visit | the codes of the visits up to the row's, sex, ages) under the generator's model."""

    name: ClassVar[str] = "history_bayes"
    reads: ClassVar[str] = "a synthetic cohort's parameters and written codes"

    @classmethod
    def open(cls, source: Path) -> HistoryBayes:
        return HistoryBayes.from_cohort(source)
