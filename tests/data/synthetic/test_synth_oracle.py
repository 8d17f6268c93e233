"""The Bayes forecast of a synthetic cohort (clincode.data.synthetic.oracle) against Monte Carlo:
visit-level draws redrawn many times with the latent state fixed, through the generator's own
visit_codes; plus its use of nothing after the prediction time and its input checks.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.stats import binom

from clincode.data.synthetic import generate_ehr_cohort
from clincode.data.synthetic.demographics import Cohort
from clincode.data.synthetic.ehr import FIRST_SUBJECT_ID, n_shards, shard_latent
from clincode.data.synthetic.oracle import CohortOracle
from clincode.data.synthetic.params import SynthParams
from clincode.data.synthetic.progression import progression_onsets
from clincode.data.synthetic.ragged import emit_members, ragged_arange
from clincode.data.synthetic.simulate import ChronicConditions, draw_onsets, draw_presence, visit_codes

# Sparse visits (about 1.2 codes drawn per visit) so that the "at least one code" filler fires
# often and its term is tested too.
SPARSE = dict(n_patients=60, n_codes=150, seed=5, shard_size=30, mean_codes_per_visit=1.2)
DEFAULT = dict(n_patients=60, n_codes=150, seed=6, shard_size=30)


@cache
def _oracle(**kwargs) -> CohortOracle:
    return CohortOracle.from_params(SynthParams(**kwargs))


class _AtVisit:
    """The uniforms ``progression_onsets`` draws visit by visit: real ones at visit ``j`` only, 1.0
    elsewhere (never below a hazard), so the targets start at visit ``j`` or not at all.
    """

    def __init__(self, j: int, rng: np.random.Generator) -> None:
        self.j, self.rng, self.step = j, rng, 0

    def random(self, shape: tuple[int, ...]) -> np.ndarray:
        out = self.rng.random(shape) if self.step == self.j else np.ones(shape)
        self.step += 1
        return out


def _replicate(cohort: Cohort, copies: int) -> Cohort:
    """``copies`` copies of the shard's patients, copy d's patient i at row d * n + i."""
    n_vis = np.tile(cohort.n_visits, copies)
    return Cohort(
        female=np.tile(cohort.female, copies),
        n_visits=n_vis,
        visit_ptr=np.concatenate([[0], np.cumsum(n_vis)]).astype(np.int64),
        birth_us=np.tile(cohort.birth_us, copies),
        visit_us=np.tile(cohort.visit_us, copies),
        visit_patient=np.repeat(np.arange(n_vis.size, dtype=np.int64), n_vis),
        visit_rank=np.tile(cohort.visit_rank, copies),
        visit_age=np.tile(cohort.visit_age, copies),
    )


def monte_carlo(params: SynthParams, oracle: CohortOracle, draws: int, chunk: int = 100) -> np.ndarray:
    """(Nv, V) counts of each code at each visit t+1 over ``draws`` redraws of everything visit t+1
    draws, with the state up to visit t fixed: whether each chronic process not active by t starts
    at t+1 (through the generator's own onset draws: default processes by rejection of fresh
    ``draw_presence`` / ``draw_onsets`` draws with an onset before t+1, progression targets through
    ``progression_onsets`` run from the fixed state) and the code set of each one that does
    (``emit_members``), the record flags of the active conditions, then acute episodes, background
    and filler codes through the generator's ``visit_codes`` (each row as a one-visit patient).
    """
    model, n_codes = oracle.model, len(oracle.model.universe)
    proc, tables, matrix = model.processes, model.tables, model.progression
    p_prev, r = params.prevalent_fraction, params.chronic_record_prob
    n_chronic = tables.chronic_ids.size
    chronic_slot = np.full(len(proc), -1, dtype=np.int64)
    chronic_slot[tables.chronic_ids] = np.arange(n_chronic)
    is_target = np.zeros(n_chronic, dtype=bool)
    if matrix is not None:
        is_target[chronic_slot[matrix.targets()]] = True
    never = np.iinfo(np.int64).max
    rng = np.random.default_rng(1234)
    blocks = []
    for shard in range(n_shards(params)):
        latent = shard_latent(params, model, shard)
        cohort, cond = latent.cohort, latent.conditions
        n, n_v = cohort.n_patients, cohort.visit_us.size
        vp, rank = cohort.visit_patient, cohort.visit_rank
        known = np.full((n, n_chronic), never, dtype=np.int64)
        known[cond.patient, chronic_slot[cond.process]] = cond.onset
        inactive = known[vp] >= rank[:, None]  # (Nv, Kc): not active by t
        # Each row's active conditions (onset < rank of t+1).
        n_cond = np.bincount(cond.patient, minlength=n)
        cond_ptr = np.concatenate([[0], np.cumsum(n_cond)])
        row_c = np.repeat(cond_ptr[vp], n_cond[vp]) + ragged_arange(n_cond[vp])
        row_r = np.repeat(np.arange(n_v), n_cond[vp])
        keep = cond.onset[row_c] < rank[row_r]
        row_c, row_r = row_c[keep], row_r[keep]
        counts = np.zeros(n_v * n_codes, dtype=np.int64)
        for lo in range(0, draws, chunk):
            copies = min(chunk, draws - lo)
            rep = _replicate(cohort, copies)
            start = np.zeros((copies, n_v, n_chronic), dtype=bool)
            pending = np.broadcast_to(inactive & ~is_target, start.shape).copy()
            while pending.any():
                patient, process = draw_presence(rep, tables, rng)
                onset = draw_onsets(rep, patient, p_prev, rng)
                fresh = np.full((copies * n, n_chronic), never, dtype=np.int64)
                fresh[patient, chronic_slot[process]] = onset
                fresh = fresh.reshape(copies, n, n_chronic)[:, vp, :]
                ok = pending & (fresh >= rank[None, :, None])
                start |= ok & (fresh == rank[None, :, None])
                pending &= ~ok
            if matrix is not None:
                d_of = np.repeat(np.arange(copies), cond.patient.size)
                f_patient = d_of * n + np.tile(cond.patient, copies)
                f_process, f_onset = np.tile(cond.process, copies), np.tile(cond.onset, copies)
                for j in np.unique(rank):
                    before = f_onset < j
                    fixed = (f_patient[before], f_process[before], f_onset[before])
                    t_patient, t_process, t_onset = progression_onsets(rep, tables, matrix, p_prev, fixed, _AtVisit(int(j), rng))
                    new = t_onset == j
                    d, i = np.divmod(t_patient[new], n)
                    start[d, cohort.visit_ptr[i] + j, chronic_slot[t_process[new]]] = True
            # One-visit patients (copy d, row v at d * Nv + v): active conditions and the new ones.
            d_new, v_new, k_new = np.nonzero(start)
            new_row, new_code = emit_members(tables.chronic_ids[k_new], proc.member_ptr, proc.member_code, proc.member_prob, rng)
            old_sizes = np.diff(cond.code_ptr)[row_c]
            old_code = cond.code[np.repeat(cond.code_ptr[row_c], old_sizes) + ragged_arange(old_sizes)]
            patient = np.concatenate([(np.arange(copies)[:, None] * n_v + row_r[None, :]).ravel(), d_new * n_v + v_new])
            sizes = np.concatenate([np.tile(old_sizes, copies), np.bincount(new_row, minlength=k_new.size)])
            code = np.concatenate([np.tile(old_code, copies), new_code])
            recorded = np.concatenate([rng.random(copies * row_c.size) < r, np.ones(k_new.size, dtype=bool)])
            process = np.concatenate([np.tile(cond.process[row_c], copies), tables.chronic_ids[k_new]])
            conditions = ChronicConditions(
                patient=patient, process=process, onset=np.zeros(patient.size, np.int64),
                code_ptr=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64), code=code,
            )  # fmt: skip
            one = np.ones(copies * n_v, dtype=np.int64)
            rows = Cohort(
                female=np.tile(cohort.female[vp], copies), n_visits=one, visit_ptr=np.arange(one.size + 1),
                birth_us=np.zeros(one.size, np.int64), visit_us=np.zeros(one.size, np.int64),
                visit_patient=np.arange(one.size), visit_rank=np.zeros(one.size, np.int64),
                visit_age=np.tile(cohort.visit_age, copies),
            )  # fmt: skip
            codes = visit_codes(rows, conditions, recorded, proc, tables, rng)
            counts += np.bincount((codes.visit % n_v) * n_codes + codes.code, minlength=counts.size)
        blocks.append(counts.reshape(-1, n_codes))
    return np.concatenate(blocks)


def every_row(oracle: CohortOracle) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(patient, visit, universe columns) of every visit of the cohort as a visit t+1."""
    lat = oracle.latent
    patient = np.repeat(np.arange(lat.n_patients), np.diff(lat.visit_ptr))
    return patient, np.arange(lat.visit_s.size), np.arange(len(oracle.model.universe))


def assert_matches(counts: np.ndarray, p: np.ndarray, draws: int, min_cells: int) -> None:
    """The oracle's probabilities ``p`` agree with the Monte Carlo ``counts`` over ``draws``."""
    assert p.shape == counts.shape and np.all((p >= 0) & (p <= 1 + 1e-12))
    # Impossible and certain cells are exactly so.
    assert np.all(counts[p == 0] == 0)
    assert np.all(counts[p >= 1 - 1e-12] == draws)
    # Every uncertain cell: exact binomial tails, Bonferroni over the cells.
    open_ = (p > 0) & (p < 1 - 1e-12)
    n_cells = int(open_.sum())
    k, q = counts[open_], p[open_]
    tail = np.minimum(binom.sf(k - 1, draws, q), binom.cdf(k, draws, q))
    assert n_cells > min_cells and 2 * tail.min() * n_cells > 1e-4, (tail.min(), n_cells)
    # z-scores of the cells with enough expected counts are standard normal.
    z = z_scores(counts, p, p, draws)
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05, (z.mean(), z.std())
    # All cells pooled by predicted probability (rare cells too): observed vs expected counts.
    edges = np.quantile(p[p > 0], np.linspace(0, 1, 21))
    bins = np.digitize(p, edges[1:-1])
    for b in range(20):
        m = (bins == b) & (p > 0) & (p < 1 - 1e-12)
        expected = draws * p[m].sum()
        sd = np.sqrt(draws * (p[m] * (1 - p[m])).sum())
        assert abs(counts[m].sum() - expected) < 5 * sd + 1, (b, counts[m].sum(), expected)


def z_scores(counts: np.ndarray, p: np.ndarray, other: np.ndarray, draws: int) -> np.ndarray:
    """z-scores of ``counts`` against the probabilities ``other``, with the variance under ``p``,
    on the cells where that variance is at least 5.
    """
    var = draws * p * (1 - p)
    big = var >= 5
    return (counts[big] - draws * other[big]) / np.sqrt(var[big])


def clone(oracle: CohortOracle, **attributes) -> CohortOracle:
    """A copy of ``oracle`` with private attributes replaced (to switch a term off)."""
    out = CohortOracle(oracle.model, oracle.latent, oracle.record_prob, oracle.prevalent_fraction)
    for name, value in attributes.items():
        setattr(out, name, value)
    return out


@pytest.mark.parametrize("kwargs", [SPARSE, DEFAULT], ids=["sparse", "default"])
def test_oracle_matches_monte_carlo(kwargs) -> None:
    params = SynthParams(**kwargs)
    oracle = _oracle(**kwargs)
    draws = 1500
    counts = monte_carlo(params, oracle, draws)
    patient, visit, cols = every_row(oracle)
    p = oracle.visit_probabilities(patient, visit, cols)
    assert_matches(counts, p, draws, min_cells=10_000)

    # The comparison has the power to see the onsets at t+1: without them the cohort fails.
    no_onset = clone(oracle, _member_prob=np.zeros_like(oracle._member_prob), _p_nonempty=np.zeros_like(oracle._p_nonempty))
    assert np.abs(z_scores(counts, p, no_onset.visit_probabilities(patient, visit, cols), draws)).max() > 8
    if kwargs is SPARSE:
        # ... and the filler term: without it the sparse cohort fails.
        no_filler = clone(oracle, _filler=np.zeros_like(oracle._filler))
        assert np.abs(z_scores(counts, p, no_filler.visit_probabilities(patient, visit, cols), draws)).max() > 8


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
    """Row t (t = rank 1, target t+1 = rank 2) is unchanged when anything drawn for visit t+1 or
    later changes: which conditions start at t+1 or later (onsets, processes) and their code sets,
    the times and ages of the visits after t+1 (all but the last: its age band sets the chronic
    risk, part of the visit schedule); and the event files are never read.
    """
    oracle = _oracle(**DEFAULT)
    lat = oracle.latent
    n_vis = np.diff(lat.visit_ptr)
    patient = np.flatnonzero(n_vis >= 4)
    subject = patient + FIRST_SUBJECT_ID
    t = lat.visit_s[lat.visit_ptr[patient] + 1]
    codes = list(oracle.model.universe.codes)
    before = oracle.probabilities(subject, t, codes)

    def with_(**fields) -> np.ndarray:
        changed = dataclasses.replace(lat, **fields)
        return CohortOracle(oracle.model, changed, oracle.record_prob, oracle.prevalent_fraction).probabilities(
            subject, t, codes
        )

    rng = np.random.default_rng(0)
    rank = np.arange(lat.visit_s.size) - np.repeat(lat.visit_ptr[:-1], n_vis)
    later = rank > 2
    shift = np.cumsum(later) * 86_400  # still increasing within each patient
    visit_s = lat.visit_s + np.where(later, shift, 0)
    not_last = np.ones(lat.visit_s.size, dtype=bool)
    not_last[lat.visit_ptr[1:] - 1] = False
    group = np.where(later & not_last, rng.integers(0, 42, lat.visit_s.size), lat.visit_group).astype(np.int16)
    late = lat.onset >= 2  # starting at t+1 or later
    assert late.sum() > 10 and (lat.onset == 2).sum() > 3
    onset = np.where(late, 2 + rng.integers(0, 5, lat.onset.size), lat.onset)
    chronic = oracle.model.tables.chronic_ids
    process = np.where(late, chronic[rng.integers(0, chronic.size, lat.process.size)], lat.process)
    code = lat.code.copy()
    late_code = np.repeat(late, np.diff(lat.code_ptr))
    code[late_code] = rng.integers(0, len(codes), int(late_code.sum()))
    assert np.array_equal(before, with_(visit_s=visit_s, visit_group=group, onset=onset, process=process, code=code))

    # What is dated at t or earlier does matter (the test has power): an onset at t moved to t+1,
    # and the code sets of the conditions active by t.
    assert not np.array_equal(before, with_(onset=np.where(lat.onset == 1, 2, lat.onset)))
    early_code = np.repeat(lat.onset <= 1, np.diff(lat.code_ptr))
    code = lat.code.copy()
    code[early_code] = rng.integers(0, len(codes), int(early_code.sum()))
    assert not np.array_equal(before, with_(code=code))

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
