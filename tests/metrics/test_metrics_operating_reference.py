"""Operating points (alert budget, fixed recall) against slow loops over rows and thresholds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clincode.metrics import evaluate
from clincode.metrics.operating import budget_point, operating_points, recall_point
from helpers.metrics_data import awkward_data, patch_chunks


def _micro(tp: int, pp: int, pos: int, rows: int) -> dict[str, float]:
    return {
        "precision_micro": tp / pp if pp else 0.0,
        "recall_micro": tp / pos if pos else 0.0,
        "f1_micro": 2 * tp / (pp + pos) if pp + pos else 0.0,
        "alert_volume": pp / rows if rows else 0.0,
    }


def slow_budget(p: np.ndarray, y: np.ndarray, budget: int) -> dict[str, float]:
    tp = pp = pos = rows = 0
    for i in range(p.shape[0]):
        valid = [j for j in range(p.shape[1]) if y[i, j] != -1]
        if not valid:
            continue
        rows += 1
        pos += sum(1 for j in valid if y[i, j] == 1)
        chosen = sorted(valid, key=lambda j: (-float(p[i, j]), j))[:budget]
        pp += len(chosen)
        tp += sum(1 for j in chosen if y[i, j] == 1)
    return _micro(tp, pp, pos, rows)


def slow_counts(p: np.ndarray, y: np.ndarray, thr: float) -> tuple[int, int, int, int]:
    tp = pp = pos = rows = 0
    for i in range(p.shape[0]):
        any_valid = False
        for j in range(p.shape[1]):
            if y[i, j] == -1:
                continue
            any_valid = True
            hit = float(p[i, j]) >= thr
            pp += hit
            pos += y[i, j] == 1
            tp += hit and y[i, j] == 1
        rows += any_valid
    return tp, pp, pos, rows


def slow_recall(p: np.ndarray, y: np.ndarray, recall: float) -> tuple[float, dict[str, float]]:
    """Scan every distinct valid score from the top: the first (largest) reaching ``recall``."""
    candidates = sorted({float(p[i, j]) for i in range(p.shape[0]) for j in range(p.shape[1]) if y[i, j] != -1}, reverse=True)
    for thr in candidates:
        tp, pp, pos, rows = slow_counts(p, y, thr)
        if pos and tp / pos >= recall - 1e-12:
            return thr, _micro(tp, pp, pos, rows)
    raise AssertionError("no threshold reaches the recall")


@pytest.mark.parametrize("budget", [1, 3, 5, 40])
@pytest.mark.parametrize("decimals", [2, None])
def test_budget_matches_slow_loop(budget: int, decimals: int | None) -> None:
    p, y = awkward_data(n=120, v=13, seed=3, decimals=decimals)
    got = budget_point(p, y, budget, np.arange(p.shape[1]))
    want = slow_budget(p, y, budget)
    assert got["budget"] == budget
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


@pytest.mark.parametrize("recall", [0.2, 0.3, 0.4, 1.0])
@pytest.mark.parametrize("decimals", [2, None])
def test_fixed_recall_matches_slow_scan(recall: float, decimals: int | None) -> None:
    p, y = awkward_data(n=120, v=13, seed=4, decimals=decimals)
    got = recall_point(p, y, recall, np.arange(p.shape[1]))
    thr, want = slow_recall(p, y, recall)
    assert got["threshold"] == pytest.approx(thr, abs=0)
    assert got["recall_micro"] >= recall - 1e-12
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_small_chunks_give_the_same_points(monkeypatch: pytest.MonkeyPatch) -> None:
    p, y = awkward_data(n=150, v=11, seed=5)
    cols = np.arange(p.shape[1])
    whole = operating_points(p, y, cols, budgets=(2, 3), recalls=(0.25, 0.5))
    patch_chunks(monkeypatch, 30)
    assert operating_points(p, y, cols, budgets=(2, 3), recalls=(0.25, 0.5)) == whole


def test_budget_alerts_at_most_b_per_row_and_recall_point_is_the_fewest_alerts() -> None:
    p, y = awkward_data(n=200, v=17, seed=6)
    point = budget_point(p, y, 3, np.arange(17))
    assert point["alert_volume"] <= 3 + 1e-12
    at = recall_point(p, y, 0.3, np.arange(17))
    # any larger threshold among the scores misses the recall
    higher = sorted({float(v) for v in p[(y == 1)] if float(v) > at["threshold"]})
    for thr in higher[:5]:
        tp, _, pos, _ = slow_counts(p, y, thr)
        assert tp / pos < 0.3


def test_evaluate_reports_operating_points_and_checks_them() -> None:
    p, y = awkward_data(n=100, v=9, seed=7)
    out = evaluate(p, y, n_bootstrap=0, buckets=None)
    points = out["operating_points"]
    assert set(points) == {"budget@3", "recall@0.2", "recall@0.3", "recall@0.4"}
    assert points["recall@0.3"]["target_recall"] == 0.3
    assert math.isfinite(points["budget@3"]["precision_micro"])
    custom = evaluate(p, y, n_bootstrap=0, buckets=None, budgets=(1, 5), recall_targets=(0.5,))
    assert set(custom["operating_points"]) == {"budget@1", "budget@5", "recall@0.5"}
    with pytest.raises(ValueError, match="budgets"):
        evaluate(p, y, n_bootstrap=0, budgets=(0,))
    with pytest.raises(ValueError, match="recall targets"):
        evaluate(p, y, n_bootstrap=0, recall_targets=(1.5,))


def test_no_positive_gives_an_undefined_threshold() -> None:
    p = np.full((4, 3), 0.5, dtype=np.float32)
    y = np.zeros((4, 3), dtype=np.int8)
    point = recall_point(p, y, 0.3, np.arange(3))
    assert point["threshold"] is None and point["recall_micro"] == 0.0
