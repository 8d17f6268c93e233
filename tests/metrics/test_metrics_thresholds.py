"""ThresholdTuner: exact optimality against brute force, fallback, grid mode, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from clincode.metrics import ThresholdTuner, decision_counts
from helpers.metrics_data import awkward_data, patch_chunks


# Thresholds are float64; the rule compares exactly (in float64), whatever the probs dtype.
def _micro_f1(p: np.ndarray, y: np.ndarray, t: float) -> float:
    m = y != -1
    return f1_score(y[m] == 1, p[m].astype(np.float64) >= t, zero_division=0)


def _label_f1(p: np.ndarray, y: np.ndarray, j: int, t: float) -> float:
    m = y[:, j] != -1
    return f1_score(y[m, j] == 1, p[m, j].astype(np.float64) >= t, zero_division=0)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return awkward_data(n=260, v=14, seed=21, decimals=2)


def test_global_threshold_is_micro_f1_optimal(data: tuple[np.ndarray, np.ndarray]) -> None:
    p, y = data
    tuner = ThresholdTuner(min_positives=5).fit(p, y)
    m = y != -1
    candidates = np.unique(p[m].astype(np.float64))
    grid = np.linspace(0, 1, 101)
    best = _micro_f1(p, y, tuner.global_threshold_)
    assert best == pytest.approx(tuner.global_f1_, abs=1e-12)
    brute = max(_micro_f1(p, y, t) for t in np.concatenate([candidates, grid]))
    assert best == pytest.approx(brute, abs=1e-12)
    # ties go to the highest threshold: nothing above reaches the same F1
    higher = candidates[candidates > tuner.global_threshold_]
    assert all(_micro_f1(p, y, t) < best - 1e-12 for t in higher)


def test_per_label_thresholds_are_f1_optimal_and_fall_back(data: tuple[np.ndarray, np.ndarray]) -> None:
    p, y = data
    tuner = ThresholdTuner(min_positives=5).fit(p, y)
    n_pos = (y == 1).sum(0)
    np.testing.assert_array_equal(tuner.n_positives_, n_pos)
    np.testing.assert_array_equal(tuner.fallback_mask_, n_pos < 5)
    assert tuner.fallback_mask_[[0, 2, 3]].all()  # no positive / all ignored / one positive
    for j in range(p.shape[1]):
        if tuner.fallback_mask_[j]:
            assert tuner.thresholds_[j] == tuner.global_threshold_
            assert np.isnan(tuner.label_f1_[j])
            continue
        m = y[:, j] != -1
        candidates = np.unique(np.concatenate([p[m, j].astype(np.float64), np.linspace(0, 1, 51)]))
        f1s = np.array([_label_f1(p, y, j, t) for t in candidates])
        got = _label_f1(p, y, j, tuner.thresholds_[j])
        assert got == pytest.approx(f1s.max(), abs=1e-12), j
        assert got == pytest.approx(tuner.label_f1_[j], abs=1e-12)
        # ties go to the highest threshold: no higher candidate reaches the same F1
        assert not np.any(f1s[candidates > tuner.thresholds_[j]] >= got - 1e-12)


def test_min_positives_zero_still_falls_back_without_positives(data: tuple[np.ndarray, np.ndarray]) -> None:
    p, y = data
    tuner = ThresholdTuner(min_positives=0).fit(p, y)
    assert tuner.fallback_mask_[0] and tuner.fallback_mask_[2] and not tuner.fallback_mask_[3]


def test_grid_mode_is_optimal_over_the_grid(data: tuple[np.ndarray, np.ndarray]) -> None:
    p, y = data
    grid = np.round(np.linspace(0.05, 0.95, 19), 2)
    tuner = ThresholdTuner(min_positives=5, grid=grid).fit(p, y)
    assert tuner.global_threshold_ in grid
    f1s = [_micro_f1(p, y, t) for t in grid]
    assert _micro_f1(p, y, tuner.global_threshold_) == pytest.approx(max(f1s), abs=1e-12)
    assert tuner.global_f1_ == pytest.approx(max(f1s), abs=1e-12)
    for j in np.flatnonzero(~tuner.fallback_mask_):
        assert tuner.thresholds_[j] in grid
        f1j = [_label_f1(p, y, j, t) for t in grid]
        assert _label_f1(p, y, j, tuner.thresholds_[j]) == pytest.approx(max(f1j), abs=1e-12)
    exact = ThresholdTuner(min_positives=5).fit(p, y)
    assert exact.global_f1_ >= tuner.global_f1_ - 1e-12  # the exact search can only do better


def test_blocks_do_not_change_the_result(data: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    p, y = data
    whole = ThresholdTuner(min_positives=3).fit(p, y)
    patch_chunks(monkeypatch, 260 * 2)
    blocked = ThresholdTuner(min_positives=3).fit(p, y)
    np.testing.assert_array_equal(whole.thresholds_, blocked.thresholds_)
    assert whole.global_threshold_ == blocked.global_threshold_


def test_json_round_trip_is_exact(data: tuple[np.ndarray, np.ndarray]) -> None:
    p, y = data
    tuner = ThresholdTuner(min_positives=4, grid=None).fit(p, y)
    back = ThresholdTuner.from_dict(json.loads(json.dumps(tuner.to_dict())))
    np.testing.assert_array_equal(back.thresholds_, tuner.thresholds_)
    np.testing.assert_array_equal(back.fallback_mask_, tuner.fallback_mask_)
    np.testing.assert_array_equal(np.isnan(back.label_f1_), np.isnan(tuner.label_f1_))
    assert back.global_threshold_ == tuner.global_threshold_ and back.min_positives == 4
    # the restored thresholds give the same decisions as the fitted ones
    a = decision_counts(p, y, tuner.thresholds_)
    b = decision_counts(p, y, back.thresholds_)
    np.testing.assert_array_equal(a.pp_label, b.pp_label)


def test_errors() -> None:
    with pytest.raises(ValueError, match="no positive"):
        ThresholdTuner().fit(np.full((3, 2), 0.2), np.zeros((3, 2), np.int8))
    with pytest.raises(ValueError, match="not fitted"):
        ThresholdTuner().to_dict()
    with pytest.raises(ValueError, match="format"):
        ThresholdTuner.from_dict({"thresholds": [0.5]})
    with pytest.raises(ValueError, match="grid"):
        ThresholdTuner(grid=[0.5, 1.5])
    with pytest.raises(ValueError, match="min_positives"):
        ThresholdTuner(min_positives=-1)
