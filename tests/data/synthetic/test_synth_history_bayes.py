"""The history-only Bayes forecast of a synthetic cohort: calibrated, between the table and the
oracle, blind to later visits, and refused where it does not apply.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from clincode.data.synthetic import generate_ehr_cohort
from clincode.data.synthetic.history_bayes import HistoryBayes, replay_codes

COHORT = dict(n_patients=400, n_codes=300, seed=3, shard_size=200)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    return generate_ehr_cohort(tmp_path_factory.mktemp("history_bayes") / "cohort", progress=False, **COHORT)


def every_row(bayes: HistoryBayes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(patient, next visit, code columns, forecast, codes at the next visit, codes seen by visit t)
    of every visit that has a next one.
    """
    lat = bayes.oracle.latent
    patient = np.repeat(np.arange(lat.n_patients), np.diff(lat.visit_ptr))
    is_last = np.zeros(lat.visit_s.size, dtype=bool)
    is_last[lat.visit_ptr[1:] - 1] = True
    nxt = np.flatnonzero(~is_last) + 1
    cols = np.unique(bayes._obs_code)
    p = bayes.visit_probabilities(patient[nxt], nxt, cols)
    ptr, code = bayes._visit_ptr_codes, bayes._obs_code
    y = np.array([np.isin(cols, code[ptr[v] : ptr[v + 1]]) for v in nxt])
    seen = np.array([np.isin(cols, code[ptr[lat.visit_ptr[patient[v]]] : ptr[v]]) for v in nxt])
    return patient[nxt], nxt, cols, p, y, seen


@pytest.fixture(scope="module")
def forecast(cohort):
    bayes = HistoryBayes.from_cohort(cohort)
    return (bayes, *every_row(bayes))


def test_replayed_codes_are_the_written_ones(cohort) -> None:
    import json

    import polars as pl

    bayes = HistoryBayes.from_cohort(cohort)
    info = json.loads((cohort / "metadata" / "dataset.json").read_text())
    assert bayes._obs_code.size == info["counts"]["diagnosis_events"]
    ev = pl.concat([pl.read_parquet(f) for f in sorted((cohort / "data").glob("*.parquet"))])
    ev = ev.filter(pl.col("code").str.starts_with("ICD10CM//"))
    universe = bayes.oracle.model.universe.codes
    written = sorted(ev["code"].to_list())
    assert written == sorted(universe[c] for c in bayes._obs_code.tolist())


def test_forecast_is_calibrated_on_repeats_and_new_codes(forecast) -> None:
    _, _, _, _, p, y, seen = forecast
    assert np.all((p >= 0) & (p <= 1))
    for mask in (np.ones_like(seen), seen, ~seen):
        q = p[mask].astype(np.float64)
        expected, realised = q.sum(), y[mask].sum()
        sd = np.sqrt((q * (1 - q)).sum())
        assert abs(realised - expected) < 5 * sd, (mask.sum(), realised, expected)


def test_between_the_repeat_table_and_the_oracle(forecast) -> None:
    bayes, patient, nxt, cols, p, y, seen = forecast
    oracle_p = bayes.oracle.visit_probabilities(patient, nxt, cols)
    history_ap = average_precision_score(y.ravel(), p.ravel())
    oracle_ap = average_precision_score(y.ravel(), oracle_p.ravel())
    # a one-cell repeat rate: P(code | seen before) and P(code | not), fitted on these very rows
    table = np.where(seen, y[seen].mean(), y[~seen].mean()) * (y.mean(axis=0) + 1e-9)
    table_ap = average_precision_score(y.ravel(), table.ravel())
    assert history_ap > table_ap, (history_ap, table_ap)
    assert history_ap < oracle_ap + 0.01, (history_ap, oracle_ap)


def test_no_row_reads_a_later_visit(cohort, forecast) -> None:
    bayes, patient, nxt, cols, p, _, _ = forecast
    lat = bayes.oracle.latent
    rank_t = nxt - 1 - lat.visit_ptr[patient]
    cut = 2
    # the codes of every visit at rank > cut are dropped
    visit = np.repeat(np.arange(lat.visit_s.size), np.diff(bayes._visit_ptr_codes))
    rank_v = visit - lat.visit_ptr[np.repeat(np.arange(lat.n_patients), np.diff(lat.visit_ptr))][visit]
    early = rank_v <= cut
    ages = replay_codes(bayes.params, bayes.oracle.model)[2]
    other = HistoryBayes(bayes.oracle, bayes.params, visit[early], bayes._obs_code[early], ages)
    rows = rank_t <= cut
    again = other.visit_probabilities(patient[rows], nxt[rows], cols)
    np.testing.assert_allclose(again, bayes.visit_probabilities(patient[rows], nxt[rows], cols), rtol=1e-9, atol=1e-12)
    assert not np.allclose(other.visit_probabilities(patient[~rows], nxt[~rows], cols), p[~rows])


def test_with_progression_calibrated_and_between_table_and_oracle(tmp_path) -> None:
    root = generate_ehr_cohort(tmp_path / "cohort", progress=False, progression="clinical", **COHORT)
    bayes = HistoryBayes.from_cohort(root)
    patient, nxt, cols, p, y, seen = every_row(bayes)
    q = p.astype(np.float64)
    assert abs(y.sum() - q.sum()) < 5 * np.sqrt((q * (1 - q)).sum()), (y.sum(), q.sum())
    # new codes of the progression targets (their onsets are what the sources raise): calibrated too
    target_codes = np.unique(bayes.oracle._member_code[np.isin(bayes.oracle._member_slot, bayes._target_slot)])
    new_target = np.isin(cols, target_codes)[None, :] & ~seen
    q = p[new_target].astype(np.float64)
    assert y[new_target].sum() > 20
    assert abs(y[new_target].sum() - q.sum()) < 5 * np.sqrt((q * (1 - q)).sum()), (y[new_target].sum(), q.sum())
    oracle_ap = average_precision_score(y.ravel(), bayes.oracle.visit_probabilities(patient, nxt, cols).ravel())
    assert average_precision_score(y.ravel(), p.ravel()) < oracle_ap + 0.01


def test_foreign_directories_are_refused(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="dataset.json"):
        HistoryBayes.from_cohort(tmp_path)
