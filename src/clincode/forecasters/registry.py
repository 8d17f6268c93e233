"""Next-visit forecasters fitted in one pass over the training histories (no gradient steps).

A forecaster is chosen like a neural model, with ``model.name`` and ``model.params`` in a
next-visit run's config, and goes through the same ``clincode train / evaluate / predict /
benchmark``. What it reads: each split's label histories (:class:`~clincode.forecasters.history.Histories`),
the tuning split to choose its settings on; what it gives back: a probability for every label of
the run's label space at each row's next visit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from clincode.data.synthetic.params import GENERATOR_NAME
from clincode.forecasters.baselines import GroupTableForecaster, PrevalenceForecaster, RepeatTableForecaster
from clincode.forecasters.history import Histories
from clincode.forecasters.history_bayes import HistoryBayesForecaster
from clincode.forecasters.oracle import OracleForecaster
from clincode.forecasters.tifu import TifuKnnForecaster
from clincode.registry import Registry


@runtime_checkable
class HistoryForecaster(Protocol):
    """What the training path needs of a one-pass forecaster."""

    def fit(self, train: Histories, tuning: Histories | None = None) -> Any: ...

    def predict_proba(self, h: Histories) -> np.ndarray: ...

    def to_dict(self) -> dict[str, Any]: ...


FORECASTERS: Registry[type[Any]] = Registry("forecaster")
FORECASTERS.register("prevalence")(PrevalenceForecaster)
FORECASTERS.register("repeat_table")(RepeatTableForecaster)
FORECASTERS.register("group_table")(GroupTableForecaster)
FORECASTERS.register("tifu_knn")(TifuKnnForecaster)
FORECASTERS.register("oracle")(OracleForecaster)
FORECASTERS.register("history_bayes")(HistoryBayesForecaster)

#: the reference rows every next-visit comparison shows by default (they cost seconds).
BASELINES = ("prevalence", "repeat_table", "group_table", "tifu_knn")


def default_references(data_path: Path | str, label_level: str = "code") -> list[str]:
    """The baselines, plus ``history_bayes`` (what the history holds) and ``oracle`` (the ceiling)
    when ``data_path`` is a synthetic cohort with code-level labels.
    """
    out = list(BASELINES)
    info = Path(data_path) / "metadata" / "dataset.json"
    if label_level == "code" and info.is_file():
        try:
            generator = json.loads(info.read_text(encoding="utf-8")).get("generator")
        except (OSError, ValueError, AttributeError):
            generator = None
        if generator == GENERATOR_NAME:
            out += ["history_bayes", "oracle"]
    return out


def describe_forecasters() -> list[dict[str, Any]]:
    """Name, one-line summary and parameters (with defaults) of every registered forecaster."""
    return FORECASTERS.describe(prefix="[next_visit, one pass] ")
