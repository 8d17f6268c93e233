"""Synthetic generator internals against slow explicit references."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import polars as pl
import pytest

from clincode.codes import is_billable_icd10cm
from clincode.data.splits import split_counts
from clincode.data.synthetic.clusters import CLUSTERS
from clincode.data.synthetic.params import SynthParams
from clincode.data.synthetic.processes import build_processes, true_coupling
from clincode.data.synthetic.ragged import draw_categorical, emit_members, ragged_arange
from clincode.data.synthetic.universe import build_universe, curated_ranking
from helpers import synthetic_cohorts as h

SEED = 7


def test_ragged_arange_matches_loop() -> None:
    counts = np.array([2, 0, 3, 1, 0])
    expected = [k for c in counts for k in range(c)]
    assert ragged_arange(counts).tolist() == expected
    assert ragged_arange(np.array([0, 0])).size == 0


def test_emit_members_frequencies() -> None:
    ptr = np.array([0, 2, 5])
    code = np.array([10, 11, 20, 21, 22])
    prob = np.array([1.0, 0.0, 0.5, 0.25, 1.0])
    process = np.array([0, 1, 1, 0] + [1] * 4000)
    row, out = emit_members(process, ptr, code, prob, np.random.default_rng(0))
    assert np.all(np.diff(row) >= 0)
    # Process 0 always emits code 10, never 11; process 1 emits 22 always, 20 half the time.
    for r in (0, 3):
        assert out[row == r].tolist() == [10]
    ones = row >= 4
    freq = {c: np.mean([c in set(out[(row == r)]) for r in range(4, 4004)]) for c in (20, 21, 22)}
    assert freq[22] == 1.0 and abs(freq[20] - 0.5) < 0.04 and abs(freq[21] - 0.25) < 0.04
    assert set(out[ones]) <= {20, 21, 22}


def test_draw_categorical_frequencies() -> None:
    weights = np.array([0.0, 1.0, 3.0, 0.0])
    draws = draw_categorical(np.cumsum(weights), 20_000, np.random.default_rng(1))
    freq = np.bincount(draws, minlength=4) / draws.size
    assert freq[0] == 0 and freq[3] == 0 and abs(freq[2] - 0.75) < 0.015


@pytest.mark.parametrize("n", [0, 1, 2, 5, 7, 10, 999, 1000, 50_000])
def test_split_counts_exact(n: int) -> None:
    counts = split_counts(n, (0.8, 0.1, 0.1))
    assert counts.sum() == n
    assert np.all(np.abs(counts - np.array([0.8, 0.1, 0.1]) * n) < 1.0)


def test_coupling_matches_explicit_loop_over_processes() -> None:
    lp = h.metadata(SEED, "latent_processes")
    used = set(h.metadata(SEED, "codes")["code"])
    expected: dict[tuple[str, str], float] = defaultdict(float)
    for _, group in lp.group_by("process_id"):
        rows = list(zip(group["code"], group["emission_prob"], strict=True))
        for x, (ca, ea) in enumerate(rows):
            for cb, eb in rows[x + 1 :]:
                a, b = min(ca, cb), max(ca, cb)
                if a in used and b in used:
                    expected[(a, b)] += ea * eb
    dep = h.metadata(SEED, "true_dependency")
    got = {(a, b): c for a, b, c in dep.iter_rows()}
    assert got.keys() == expected.keys()
    assert all(abs(got[k] - expected[k]) < 1e-12 for k in got)


def test_calibration_hits_target_frequencies() -> None:
    # Each code's target rate is sum_k a_k e[k,c] + background; check the empirical rate per visit
    # of the most frequent codes is within 20 % of the model's target.
    params = SynthParams(n_patients=h.N_PATIENTS, n_codes=h.N_CODES, seed=SEED)
    universe = build_universe(params.n_codes, params.zipf_exponent, params.mean_codes_per_visit,
                              np.random.default_rng([SEED, 0]))  # fmt: skip
    dx = h.diagnoses(SEED)
    n_visits = dx.select("subject_id", "time").n_unique()
    counts = dict(dx.group_by("code").len().iter_rows())
    order = np.argsort(-universe.rate)[:15]
    for i in order:
        observed = counts.get(universe.codes[i], 0) / n_visits
        assert abs(observed / universe.rate[i] - 1.0) < 0.2, universe.codes[i]


def test_processes_reference_real_groupings() -> None:
    lp = h.metadata(SEED, "latent_processes")
    names = lp["process_name"].unique().to_list()
    assert "cardiometabolic" in names and "pregnancy" in names
    assert any(n.startswith("CCS//") for n in names)
    assert lp.group_by("process_id").agg(pl.col("restriction").n_unique())["restriction"].max() == 1
    assert (lp["emission_prob"] > 0).all() and (lp["emission_prob"] <= 0.9 + 1e-12).all()


def test_curated_codes_are_valid_billable_codes() -> None:
    for cluster in CLUSTERS:
        for body in cluster.codes:
            assert is_billable_icd10cm("ICD10CM//" + body), (cluster.name, body)
    assert curated_ranking()[0] == "I10"


def test_every_process_restriction_is_consistent() -> None:
    universe = build_universe(800, 1.1, 4.5, np.random.default_rng([3, 0]))
    proc = build_processes(universe, 12, 0.25, 1.8, np.random.default_rng([3, 3]))
    for k in range(len(proc)):
        members = proc.member_code[proc.member_ptr[k] : proc.member_ptr[k + 1]]
        found = {universe.restriction[m] for m in members} - {None}
        assert found <= {proc.restriction[k]}
    a, b, c = true_coupling(proc)
    assert (a < b).all() and (c > 0).all()
