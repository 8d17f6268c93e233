"""Disease progression in the synthetic generator (progression="clinical"): the truth table, onset
hazards raised by their source conditions near the published RR, prevalence kept, the default
unchanged, and the oracle still exact (Monte Carlo).
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import polars as pl
import pytest
from test_synth_oracle import assert_matches, clone, every_row, monte_carlo, z_scores

from clincode.data.synthetic import generate_ehr_cohort
from clincode.data.synthetic.oracle import CohortLatent, CohortOracle
from clincode.data.synthetic.params import SynthParams
from clincode.data.synthetic.progression import CONCEPTS, EDGES

BIG = dict(n_patients=20_000, n_codes=2000, seed=2, shard_size=10_000)


@cache
def _oracle(progression: str, **kwargs) -> CohortOracle:
    return CohortOracle.from_params(SynthParams(progression=progression, **kwargs))


def _condition_table(lat: CohortLatent) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    patient = np.repeat(np.arange(lat.n_patients), np.diff(lat.cond_ptr))
    return patient, lat.onset, lat.process


def test_truth_table(tmp_path) -> None:
    out = generate_ehr_cohort(tmp_path / "c", n_patients=300, n_codes=2000, seed=1, progress=False, progression="clinical")
    table = pl.read_parquet(out / "metadata" / "true_progression.parquet")
    processes = pl.read_parquet(out / "metadata" / "latent_processes.parquet")
    assert table.height > 10
    assert (table["relative_risk"] > 1).all() and (table["hazard_scale_to"] > 0).all()
    assert (table["process_from_id"] != table["process_to_id"]).all()
    assert table.select("process_from_id", "process_to_id").is_unique().all()
    kinds = dict(processes.select("process_id", "kind").unique().iter_rows())
    names = dict(processes.select("process_id", "process_name").unique().iter_rows())
    for row in table.iter_rows(named=True):
        assert kinds[row["process_from_id"]] == kinds[row["process_to_id"]] == "chronic"
        assert names[row["process_from_id"]] == row["process_from"] and names[row["process_to_id"]] == row["process_to"]
        members = processes.filter(pl.col("process_id") == row["process_to_id"])["code"].to_list()
        assert row["codes_to"] == members
        source, target = row["edge"].split(" -> ")
        edge = next(e for e in EDGES if (e.source, e.target) == (source, target))
        assert row["relative_risk"] == edge.relative_risk and row["reference"] == edge.reference
        assert any(c.removeprefix("ICD10CM//").startswith(CONCEPTS[target]) for c in row["codes_to"])
        assert any(c.removeprefix("ICD10CM//").startswith(CONCEPTS[source]) for c in row["codes_from"])
    edges = set(table["edge"])
    for expected in ("diabetes -> chronic kidney disease", "hypertension -> heart failure", "atrial fibrillation -> stroke"):
        assert expected in edges
    info = json.loads((out / "metadata" / "dataset.json").read_text())
    assert info["parameters"]["progression"] == "clinical"
    assert "metadata/true_progression.parquet" in info["files"]

    plain = generate_ehr_cohort(tmp_path / "p", n_patients=300, n_codes=200, seed=1, progress=False)
    assert not (plain / "metadata" / "true_progression.parquet").exists()
    assert "progression" not in json.loads((plain / "metadata" / "dataset.json").read_text())["parameters"]
    with pytest.raises(ValueError, match="progression='fast' must be one of none, clinical"):
        generate_ehr_cohort(tmp_path / "x", n_patients=300, n_codes=200, progress=False, progression="fast")


def crude_hazard_ratio(lat: CohortLatent, source: int, target: int) -> tuple[float, int]:
    """Onsets of ``target`` per patient-visit at risk (visits >= 1, target not started), with
    ``source`` started at an earlier visit vs not; and the number of exposed onsets.
    """
    patient, onset, process = _condition_table(lat)
    never = np.iinfo(np.int64).max
    o_src = np.full(lat.n_patients, never)
    o_tgt = np.full(lat.n_patients, never)
    o_src[patient[process == source]] = onset[process == source]
    o_tgt[patient[process == target]] = onset[process == target]
    n_vis = np.diff(lat.visit_ptr)
    visit_patient = np.repeat(np.arange(lat.n_patients), n_vis)
    rank = np.arange(lat.visit_s.size) - lat.visit_ptr[visit_patient]
    at_risk = (rank >= 1) & (o_tgt[visit_patient] >= rank)
    exposed = o_src[visit_patient] < rank
    event = o_tgt[visit_patient] == rank
    rate_e = event[at_risk & exposed].sum() / max((at_risk & exposed).sum(), 1)
    rate_u = event[at_risk & ~exposed].sum() / max((at_risk & ~exposed).sum(), 1)
    return rate_e / rate_u, int(event[at_risk & exposed].sum())


def test_onset_hazard_raised_near_the_relative_risk() -> None:
    clinical, plain = _oracle("clinical", **BIG), _oracle("none", **BIG)
    matrix = clinical.model.progression
    assert plain.model.progression is None and matrix is not None
    targets = set(matrix.targets().tolist())
    checked = []
    for s, t, rr in zip(matrix.source, matrix.target, matrix.relative_risk, strict=True):
        if int(s) in targets:  # an exogenous source: its own onsets are not raised by anything
            continue
        hr_clinical, events = crude_hazard_ratio(clinical.latent, int(s), int(t))
        if events < 40:
            continue
        hr_plain, _ = crude_hazard_ratio(plain.latent, int(s), int(t))
        checked.append((rr, hr_clinical / hr_plain))
        assert hr_clinical > hr_plain  # onset more frequent after the source than without progression
    assert len(checked) >= 3, checked
    rr, ratio = np.array(checked).T
    # The age / visit-count confounding of the crude ratio cancels between the two cohorts.
    assert np.all((ratio > rr / 2) & (ratio < rr * 2)), checked
    assert abs(np.mean(np.log(ratio / rr))) < 0.3, checked


def test_prevalence_roughly_kept() -> None:
    clinical, plain = _oracle("clinical", **BIG), _oracle("none", **BIG)
    n_proc = len(plain.model.processes)
    share = {}
    for name, oracle in (("clinical", clinical), ("none", plain)):
        _, _, process = _condition_table(oracle.latent)
        share[name] = np.bincount(process, minlength=n_proc) / oracle.latent.n_patients
    for k in clinical.model.progression.targets():
        if share["none"][k] * BIG["n_patients"] >= 200:
            assert abs(share["clinical"][k] / share["none"][k] - 1) < 0.2, (clinical.model.processes.names[k], share)


def test_oracle_matches_monte_carlo_with_progression() -> None:
    kwargs = dict(n_patients=60, n_codes=400, seed=8, shard_size=30, mean_codes_per_visit=2.0)
    params = SynthParams(progression="clinical", **kwargs)
    oracle = _oracle("clinical", **kwargs)
    assert oracle.model.progression is not None
    draws = 1200
    counts = monte_carlo(params, oracle, draws)
    patient, visit, cols = every_row(oracle)
    p = oracle.visit_probabilities(patient, visit, cols)
    assert_matches(counts, p, draws, min_cells=10_000)
    # The comparison sees the relative risks of the sources active by t: without them it fails.
    no_rr = clone(oracle, _log_rr=np.zeros_like(oracle._log_rr)).visit_probabilities(patient, visit, cols)
    assert np.abs(z_scores(counts, p, no_rr, draws)).max() > 8


def test_cli_progression_option(tmp_path) -> None:
    from typer.testing import CliRunner

    from clincode.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["synth", "ehr", "--out", str(tmp_path / "a"), "--patients", "40", "--codes", "300",
                              "--progression", "Clinical"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "a" / "metadata" / "dataset.json").read_text())["parameters"]["progression"] == "clinical"
    assert (tmp_path / "a" / "metadata" / "true_progression.parquet").is_file()
    res = runner.invoke(app, ["synth", "ehr", "--out", str(tmp_path / "b"), "--patients", "40", "--progression", "fast"])
    assert res.exit_code == 1 and "--progression must be one of none, clinical" in res.output
    assert "--progression" in runner.invoke(app, ["synth", "ehr", "--help"], env={"COLUMNS": "200"}).output
