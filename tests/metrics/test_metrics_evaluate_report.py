"""evaluate's output structure, strict JSON, flatten / table / atomic write."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from clincode.metrics import ThresholdTuner, evaluate, flatten_metrics, format_table, write_metrics
from helpers.metrics_data import awkward_data


@pytest.fixture(scope="module")
def result() -> tuple[np.ndarray, np.ndarray, ThresholdTuner, dict]:
    p, y = awkward_data(n=200, v=16, seed=51)
    tuner = ThresholdTuner(min_positives=4).fit(p, y)
    counts = np.arange(16) * 7
    m = evaluate(p, y, groups=np.arange(200) // 3, train_counts=counts, thresholds=tuner, n_bootstrap=40, seed=1)
    return p, y, tuner, m


def test_structure_and_strict_json(result) -> None:  # type: ignore[no-untyped-def]
    p, y, tuner, m = result
    assert {"n_rows", "n_rows_dropped", "n_labels", "ranking", "at_k", "map", "rules", "buckets", "bootstrap", "ci"} <= m.keys()
    assert m["n_rows"] == 199 and m["n_rows_dropped"] == 1 and m["n_labels"] == 16
    assert set(m["rules"]) == {"0.5", "global", "per_label"}
    assert m["rules"]["global"]["threshold"] == tuner.global_threshold_
    assert m["rules"]["per_label"]["n_fallback_labels"] == int(tuner.fallback_mask_.sum())
    assert {"p@5", "r@5", "p@8", "r@8", "p@15", "r@15"} <= m["at_k"].keys()
    assert set(m["buckets"]) == {"boundaries", "head", "medium", "tail"}
    text = json.dumps(m, allow_nan=False)  # no NaN anywhere: undefined values are null
    assert json.loads(text) == m


def test_top_level_numbers_match_sklearn(result) -> None:  # type: ignore[no-untyped-def]
    p, y, _, m = result
    valid = y != -1
    assert m["ranking"]["auroc_micro"] == pytest.approx(roc_auc_score(y[valid], p[valid]), abs=1e-12)
    assert m["ranking"]["auprc_micro"] == pytest.approx(average_precision_score(y[valid], p[valid]), abs=1e-12)


def test_flatten_keys_cover_the_intervals(result) -> None:  # type: ignore[no-untyped-def]
    _, _, _, m = result
    flat = flatten_metrics(m)
    assert all(isinstance(v, float) for v in flat.values())
    assert set(m["ci"]) <= set(flat)
    assert flat["rules.global.f1_micro"] == m["rules"]["global"]["f1_micro"]
    assert flat["buckets.tail.ranking.auprc_macro"] == m["buckets"]["tail"]["ranking"]["auprc_macro"]
    assert not any(k.startswith(("ci.", "bootstrap.", "buckets.boundaries")) for k in flat)
    # None (undefined) becomes NaN; strings are skipped
    assert math.isnan(flatten_metrics({"a": {"b": None}, "run": {"name": "x"}, "s": "t"})["a.b"])


def test_without_tuner_only_the_fixed_rule(result) -> None:  # type: ignore[no-untyped-def]
    p, y, _, _ = result
    m = evaluate(p, y, n_bootstrap=0)
    assert set(m["rules"]) == {"0.5"} and "buckets" not in m and "ci" not in m
    with pytest.raises(ValueError, match="fitted on 16 labels"):
        evaluate(p[:, :5], y[:, :5], thresholds=ThresholdTuner().fit(p, y), n_bootstrap=0)
    with pytest.raises(ValueError, match="groups"):
        evaluate(p, y, groups=np.zeros(3, np.int64), n_bootstrap=0)
    with pytest.raises(ValueError, match="train_counts"):
        evaluate(p, y, train_counts=np.zeros(3), n_bootstrap=0)


def test_float16_and_bool_inputs() -> None:
    p, y = awkward_data(n=60, v=6, seed=2, decimals=1)
    y[y == -1] = 0
    p = np.nan_to_num(p)
    a = evaluate(p.astype(np.float16), y.astype(bool), n_bootstrap=0)
    b = evaluate(p.astype(np.float16).astype(np.float32), y, n_bootstrap=0)
    assert a == b


def test_table_and_atomic_write(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, _, m = result
    table = format_table(m)
    for needle in ("AUPRC micro", "P@5", "MAP", "per_label", "alerts/row", "head", "tail", "95% CI"):
        assert needle in table
    assert f"{m['ranking']['auprc_micro']:.4f}" in table
    path = write_metrics(m, tmp_path / "run" / "metrics.json")
    assert json.loads(path.read_text()) == m
    write_metrics({"x": 1}, path)
    assert json.loads(path.read_text()) == {"x": 1}
    assert [f.name for f in path.parent.iterdir()] == ["metrics.json"]  # no temp file left
    with pytest.raises(ValueError):
        write_metrics({"x": float("nan")}, path)  # strict JSON
    assert json.loads(path.read_text()) == {"x": 1}  # the old file survives a failed write
