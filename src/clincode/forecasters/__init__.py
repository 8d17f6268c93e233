"""One-pass next-visit forecasters: history baselines (prevalence, repeat table, TIFU-KNN) and the
synthetic cohort's Bayes forecast (oracle).
"""

from clincode.forecasters.history import Histories, HistoryEntries
from clincode.forecasters.registry import BASELINES, FORECASTERS, HistoryForecaster, default_references

__all__ = ["BASELINES", "FORECASTERS", "default_references", "Histories", "HistoryEntries", "HistoryForecaster"]
