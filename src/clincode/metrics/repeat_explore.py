"""Repeat and explore scores of next-visit forecasts (in the manner of Li et al., TOIS 2023).

An entry (row, label) is a *repeat* entry when the label is in the row's visible history (coded at
a visit up to the prediction time) and an *explore* entry otherwise. Each kind is scored on its own
entries only, the other kind's entries ignored (as targets of -1): micro AUPRC, and P@k / R@k with
each row ranking only its entries of that kind (docs/methods.md: k stays the denominator, so a row
with fewer than k repeat candidates cannot reach P@k = 1). ``positive_share``: the share of all
positives that are of the kind; ``entries``: how many (row, label) entries are of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from clincode.metrics.at_k import row_ranking
from clincode.metrics.ranking import ranking_metrics


def _num(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def repeat_explore(probs: np.ndarray, targets: np.ndarray, history: np.ndarray, ks: Sequence[int] = (5, 8, 15)) -> dict[str, Any]:
    """``{"repeat": {...}, "explore": {...}}`` (module docstring).

    Args:
        probs: float (N, V) probabilities.
        targets: int (N, V) in {1, 0, -1}.
        history: bool (N, V), True where the label is in the row's visible history.
    """
    if history.shape != targets.shape:
        raise ValueError(f"history mask of shape {history.shape}; expected the targets' {targets.shape}")
    positives = int((targets == 1).sum())
    out: dict[str, Any] = {}
    for kind, mask in (("repeat", history), ("explore", ~history)):
        masked = np.where(mask, targets, np.int8(-1)).astype(np.int8)
        pos = int((masked == 1).sum())
        sec: dict[str, Any] = {
            "entries": int((masked != -1).sum()),
            "positives": pos,
            "positive_share": _num(pos / positives) if positives else None,
            "auprc_micro": _num(ranking_metrics(probs, masked).auprc_micro) if pos else None,
        }
        at_k, _ = row_ranking(probs, masked, ks).summary()
        sec.update({k: v for k, v in at_k.items() if "@" in k})
        out[kind] = sec
    return out


def format_repeat_explore(section: dict[str, Any], fmt: Any) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the repeat / explore table of ``format_table``."""
    ks = [k for k in section.get("repeat", {}) if "@" in k]
    header = ["kind", "entries", "share of positives", "AUPRC micro"] + [k.upper() for k in ks]
    rows = []
    for kind in ("repeat", "explore"):
        sec = section.get(kind, {})
        rows.append([kind, str(sec.get("entries")), fmt(sec.get("positive_share")), fmt(sec.get("auprc_micro"))] + [fmt(sec.get(k)) for k in ks])
    return header, rows
