"""The Bayes forecast of a synthetic cohort (clincode.data.synthetic.oracle) against Monte Carlo:
visit-level draws redrawn many times with the latent state fixed, through the generator's own
visit_codes; plus its use of nothing after the prediction time and its input checks."""

from __future__ import annotations

import dataclasses
import json
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.stats import binom

from clincode.data.synthetic import generate_ehr_cohort
from clincode.data.synthetic.ehr import FIRST_SUBJECT_ID, n_shards, shard_latent
from clincode.data.synthetic.oracle import CohortOracle
from clincode.data.synthetic.params import SynthParams
from clincode.data.synthetic.simulate import record_flags, visit_codes

# Sparse visits (about 1.2 codes drawn per visit) so that the "at least one code" filler fires
# often and its term is tested too.
SPARSE = dict(n_patients=60, n_codes=150, seed=5, shard_size=30, mean_codes_per_visit=1.2)
DEFAULT = dict(n_patients=60, n_codes=150, seed=6, shard_size=30)


@lru_cache(maxsize=None)
def _oracle(**kwargs) -> CohortOracle:
    return CohortOracle.from_params(SynthParams(**kwargs))


def monte_carlo(params: SynthParams, oracle: CohortOracle, draws: int) -> np.ndarray:
    """(Nv, V) counts of each code at each visit over ``draws`` redraws of every visit-level draw
    (record flags, acute episodes, background, filler) with the latent state of the cohort fixed."""
    model, n_codes = oracle.model, len(oracle.model.universe)
    blocks = []
    for shard in range(n_shards(params)):
        latent = shard_latent(params, model, shard)
        cohort, cond = latent.cohort, latent.conditions
        active = cohort.n_visits[cond.patient] - cond.onset
        counts = np.zeros(cohort.visit_us.size * n_codes, dtype=np.int64)
        rng = np.random.default_rng([1234, shard])
        for _ in range(draws):
            recorded = record_flags(active, params.chronic_record_prob, rng)
            codes = visit_codes(cohort, cond, recorded, model.processes, model.tables, rng)
            counts += np.bincount(codes.visit * n_codes + codes.code, minlength=counts.size)
        blocks.append(counts.reshape(-1, n_codes))
    return np.concatenate(blocks)


@pytest.mark.parametrize("kwargs", [SPARSE, DEFAULT], ids=["sparse", "default"])
def test_oracle_matches_monte_carlo(kwargs) -> None:
    params = SynthParams(**kwargs)
    oracle = _oracle(**kwargs)
    draws = 1500
    counts = monte_carlo(params, oracle, draws)
    lat = oracle.latent
    visit = np.arange(lat.visit_s.size)
    patient = np.repeat(np.arange(lat.n_patients), np.diff(lat.visit_ptr))
    cols = np.arange(len(oracle.model.universe))
    p = oracle.visit_probabilities(patient, visit, cols)
    assert p.shape == counts.shape and np.all((p >= 0) & (p <= 1 + 1e-12))

    # Impossible and certain cells are exactly so.
    assert np.all(counts[p == 0] == 0)
    assert np.all(counts[p >= 1 - 1e-12] == draws)
    # Every uncertain cell: exact binomial tails, Bonferroni over the cells (about 5 * 10^4 of them).
    open_ = (p > 0) & (p < 1 - 1e-12)
    n_cells = int(open_.sum())
    k, q = counts[open_], p[open_]
    tail = np.minimum(binom.sf(k - 1, draws, q), binom.cdf(k, draws, q))
    assert n_cells > 10_000 and 2 * tail.min() * n_cells > 1e-4, (tail.min(), n_cells)
    # z-scores of the cells with enough expected counts are standard normal.
    var = draws * p * (1 - p)
    big = var >= 5
    z = (counts[big] - draws * p[big]) / np.sqrt(var[big])
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05, (z.mean(), z.std())
    # All cells pooled by predicted probability (rare cells too): observed vs expected counts.
    edges = np.quantile(p[p > 0], np.linspace(0, 1, 21))
    bins = np.digitize(p, edges[1:-1])
    for b in range(20):
        m = (bins == b) & (p > 0) & (p < 1 - 1e-12)
        expected = draws * p[m].sum()
        sd = np.sqrt(draws * (p[m] * (1 - p[m])).sum())
        assert abs(counts[m].sum() - expected) < 5 * sd + 1, (b, counts[m].sum(), expected)

    if kwargs is SPARSE:
        # The comparison has the power to see the filler term: without it the sparse cohort fails.
        clone = CohortOracle(oracle.model, oracle.latent, oracle.record_prob)
        clone._filler = np.zeros_like(clone._filler)
        no_filler = clone.visit_probabilities(patient, visit, cols)
        zf = (counts[big] - draws * no_filler[big]) / np.sqrt(var[big])
        assert np.abs(zf).max() > 8, np.abs(zf).max()


def next_visit_rows(root: Path) -> tuple[np.ndarray, np.ndarray, list[set[str]]]:
    """(subject_id, visit_time seconds of visit t, code set of visit t+1) of every row, from the events."""
    files = sorted((root / "data").glob("*.parquet"))
    ev = pl.concat([pl.read_parquet(f) for f in files]).filter(pl.col("code").str.starts_with("ICD10CM//"))
    visits = (
        ev.group_by("subject_id", "time").agg(pl.col("code")).sort("subject_id", "time")
        .with_columns(next_codes=pl.col("code").shift(-1).over("subject_id"))
        .filter(pl.col("next_codes").is_not_null())
    )  # fmt: skip
    t = visits["time"].dt.epoch("s").to_numpy()
    return visits["subject_id"].to_numpy(), t, [set(c) for c in visits["next_codes"].to_list()]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    return generate_ehr_cohort(tmp_path_factory.mktemp("oracle") / "cohort", progress=False, **DEFAULT)


def test_from_cohort_rows_and_real_targets(cohort) -> None:
    oracle = CohortOracle.from_cohort(cohort)
    subject, t, targets = next_visit_rows(cohort)
    codes = pl.read_parquet(cohort / "metadata" / "codes.parquet")["code"].to_list()
    codes = [c for c in codes if c.startswith("ICD10CM//")]
    p = oracle.probabilities(subject, t, codes)
    assert p.dtype == np.float32 and p.shape == (subject.size, len(codes))
    y = np.array([[c in s for c in codes] for s in targets])
    assert np.all(p[y] > 0)  # every realised target code was possible
    assert np.all(y[p >= 1 - 1e-6])  # and every certain one happened
    # Expected vs realised codes per row: within a few standard errors over all rows.
    expected, realised = p.astype(np.float64).sum(), y.sum()
    sd = np.sqrt((p * (1 - p)).astype(np.float64).sum())
    assert abs(realised - expected) < 5 * sd, (realised, expected)
    # Same answer as the oracle rebuilt from the parameters.
    again = _oracle(**DEFAULT).probabilities(subject, t, codes)
    assert np.array_equal(p, again)


def test_oracle_beats_training_prevalence(cohort) -> None:
    from sklearn.metrics import average_precision_score

    subject, t, targets = next_visit_rows(cohort)
    codes = sorted({c for s in targets for c in s})
    y = np.array([[c in s for c in codes] for s in targets])
    p = CohortOracle.from_cohort(cohort).probabilities(subject, t, codes)
    prior = np.broadcast_to(y.mean(axis=0), y.shape)
    oracle_ap = average_precision_score(y.ravel(), p.ravel())
    prior_ap = average_precision_score(y.ravel(), prior.ravel())
    assert oracle_ap > prior_ap + 0.1, (oracle_ap, prior_ap)


def test_oracle_ignores_what_is_drawn_after_the_prediction_time(cohort) -> None:
    """Row t (target t+1 = rank 2 here) is unchanged when everything about visits after t+1 changes:
    their times and ages, the onsets and code sets of conditions starting after t+1; and the event
    files are never read (deleting them changes nothing)."""
    oracle = _oracle(**DEFAULT)
    lat = oracle.latent
    n_vis = np.diff(lat.visit_ptr)
    patient = np.flatnonzero(n_vis >= 4)
    subject = patient + FIRST_SUBJECT_ID
    t = lat.visit_s[lat.visit_ptr[patient] + 1]  # row t = rank 1, target = rank 2
    codes = list(oracle.model.universe.codes)
    before = oracle.probabilities(subject, t, codes)

    rng = np.random.default_rng(0)
    rank = np.arange(lat.visit_s.size) - np.repeat(lat.visit_ptr[:-1], n_vis)
    later = rank > 2
    shift = np.cumsum(later) * 86_400  # still increasing within each patient
    visit_s = lat.visit_s + np.where(later, shift, 0)
    group = np.where(later, rng.integers(0, 42, lat.visit_s.size), lat.visit_group).astype(np.int16)
    late = lat.onset > 2
    onset = np.where(late, lat.onset + 1, lat.onset)
    code = lat.code.copy()
    late_code = np.repeat(late, np.diff(lat.code_ptr))
    code[late_code] = rng.integers(0, len(codes), int(late_code.sum()))
    changed = dataclasses.replace(lat, visit_s=visit_s, visit_group=group, onset=onset, code=code)
    after = CohortOracle(oracle.model, changed, oracle.record_prob).probabilities(subject, t, codes)
    assert np.array_equal(before, after)

    # What is dated at t+1 does matter (the test has power): move onsets at rank 2 to rank 3.
    moved = dataclasses.replace(lat, onset=np.where(lat.onset == 2, 3, lat.onset))
    assert not np.array_equal(before, CohortOracle(oracle.model, moved, oracle.record_prob).probabilities(subject, t, codes))

    # No event file is read.
    copy = cohort.parent / "no-events"
    shutil.copytree(cohort, copy)
    shutil.rmtree(copy / "data")
    assert np.array_equal(before, CohortOracle.from_cohort(copy).probabilities(subject, t, codes))


def test_input_errors(cohort, tmp_path) -> None:
    oracle = CohortOracle.from_cohort(cohort)
    lat = oracle.latent
    first, last = lat.visit_s[0], lat.visit_s[lat.visit_ptr[1] - 1]
    code = [oracle.model.universe.codes[0]]
    with pytest.raises(ValueError, match="is not a patient of this cohort"):
        oracle.probabilities(np.array([1]), np.array([first]), code)
    with pytest.raises(ValueError, match="is not a visit of subject"):
        oracle.probabilities(np.array([FIRST_SUBJECT_ID]), np.array([first + 1]), code)
    if lat.visit_ptr[1] > 1:
        with pytest.raises(ValueError, match="has no next visit"):
            oracle.probabilities(np.array([FIRST_SUBJECT_ID]), np.array([last]), code)
    with pytest.raises(ValueError, match="not in the cohort's code universe"):
        oracle.probabilities(np.array([FIRST_SUBJECT_ID]), np.array([first]), ["ICD10CM//E11"])

    with pytest.raises(FileNotFoundError, match="dataset.json"):
        CohortOracle.from_cohort(tmp_path)
    info = json.loads((cohort / "metadata" / "dataset.json").read_text())
    cases = {
        "generator": ({**info, "generator": "other"}, "field 'generator'"),
        "version": ({**info, "generator_version": "9.9"}, "field 'generator_version' is '9.9'"),
        "parameter": ({**info, "parameters": {**info["parameters"], "warp": 1}}, "parameters.warp"),
        "counts": ({**info, "counts": {**info["counts"], "visits": 1}}, "counts.visits"),
    }
    for name, (content, message) in cases.items():
        bad = tmp_path / name
        shutil.copytree(cohort / "metadata", bad / "metadata")
        (bad / "metadata" / "dataset.json").write_text(json.dumps(content))
        with pytest.raises(ValueError, match=message):
            CohortOracle.from_cohort(bad)
