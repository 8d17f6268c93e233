"""The score one-pass forecasters choose their settings by, on the tuning split only."""

from __future__ import annotations

import numpy as np

from clincode.metrics.ranking import ranking_metrics


def micro_auprc(probs: np.ndarray, targets: np.ndarray) -> float:
    """Micro AUPRC of (N, V) probabilities against (N, V) targets in {1, 0, -1} (-1 ignored)."""
    value = ranking_metrics(probs, targets).auprc_micro
    return float("-inf") if value is None or not np.isfinite(value) else float(value)
