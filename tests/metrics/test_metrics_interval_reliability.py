"""Bootstrap intervals on small samples are flagged unreliable (metrics.json and the table)."""

from __future__ import annotations

import numpy as np

from clincode.metrics import evaluate, format_table
from clincode.metrics.report import MIN_RELIABLE_UNITS, interval_reliability


def _metrics(n: int) -> dict:
    rng = np.random.default_rng(0)
    targets = (rng.random((n, 30)) < 0.1).astype(np.int8)
    probs = rng.random((n, 30))
    return evaluate(probs, targets, groups=np.arange(n), n_bootstrap=40, seed=0)


def test_few_units_flagged_in_metrics_and_table() -> None:
    m = _metrics(24)
    assert m["bootstrap"]["n_units"] == 24 < MIN_RELIABLE_UNITS
    assert m["bootstrap"]["unreliable"] is True
    assert "resampling units" in m["bootstrap"]["unreliable_reasons"][0]
    assert "Unreliable intervals" in format_table(m)


def test_enough_units_not_flagged_for_size() -> None:
    m = _metrics(200)
    assert not any("resampling units" in r for r in m["bootstrap"]["unreliable_reasons"])


def test_interval_excluding_its_estimate_is_flagged_and_marked() -> None:
    m = _metrics(200)
    m["ranking"]["auprc_macro"] = 0.0591
    m["ci"]["ranking.auprc_macro"] = [0.0617, 0.0972]
    verdict = interval_reliability(m)
    assert verdict["unreliable"] and verdict["excludes_estimate"] == ["ranking.auprc_macro"]
    assert "[0.0617, 0.0972]*" in format_table(m)
