"""Synthetic EHR cohort: the statistical properties the generator promises, measured on the data."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import sparse

from clincode.codes import is_pregnancy_code, sex_restriction
from helpers import synthetic_cohorts as h

SEED = 7
DAY_US = 86_400 * 1_000_000


def test_visit_structure_is_realistic() -> None:
    dx = h.diagnoses(SEED)
    per_visit = dx.group_by("subject_id", "time").len()["len"]
    assert 3.0 <= per_visit.mean() <= 6.0  # a handful of codes per visit
    per_patient = dx.group_by("subject_id").agg(pl.col("visit").max())["visit"]
    assert 6.0 <= per_patient.mean() <= 10.0
    assert per_patient.max() >= 4 * per_patient.mean()  # long tail of heavy users
    assert (per_patient == 1).mean() > 0.03  # and some single-visit patients


def test_visit_dates_increase_and_gaps_are_irregular() -> None:
    visits = h.diagnoses(SEED).select("subject_id", "time", "visit").unique().sort("subject_id", "visit")
    gaps = visits.with_columns(gap=pl.col("time").diff().over("subject_id")).drop_nulls("gap")
    days = gaps["gap"].dt.total_microseconds().to_numpy() / DAY_US
    assert (days > 0).all()  # strictly increasing visit times per patient
    q10, q50, q90 = np.quantile(days, [0.1, 0.5, 0.9])
    assert q10 < 20 and 30 < q50 < 300 and q90 > 300 and q90 / q10 > 20


def test_no_event_before_birth() -> None:
    dx = h.diagnoses(SEED)
    assert (dx["time"] > dx["birth"]).all()


def test_long_tailed_code_frequencies() -> None:
    counts = np.sort(h.diagnoses(SEED).group_by("code").len()["len"].to_numpy())[::-1]
    head = counts[: max(3, counts.size // 100)].mean()  # top 1 % of codes
    tail = counts[-max(3, counts.size // 10) :].mean()  # bottom 10 %
    assert head / tail >= 100


def test_head_codes_are_common_real_diagnoses() -> None:
    top = h.diagnoses(SEED).group_by("code").len().sort("len", descending=True).head(10)["code"].to_list()
    assert "ICD10CM//I10" in top[:3]
    assert len(set(top) & {"ICD10CM//E78.5", "ICD10CM//E11.9", "ICD10CM//J06.9", "ICD10CM//F32.9"}) >= 3


def _codes_by_kind() -> tuple[set[str], set[str]]:
    lp = h.metadata(SEED, "latent_processes")
    kinds = lp.group_by("code").agg(pl.col("kind").unique())
    only = kinds.filter(pl.col("kind").list.len() == 1).with_columns(kind=pl.col("kind").list.first())
    return set(only.filter(pl.col("kind") == "chronic")["code"]), set(only.filter(pl.col("kind") == "acute")["code"])


def test_chronic_codes_persist_acute_codes_do_not() -> None:
    dx = h.diagnoses(SEED)
    # For each (patient, code): share of the visits after its first occurrence that record it again.
    first = dx.group_by("subject_id", "code").agg(
        first=pl.col("visit").min(), k=pl.len(), n_visits=pl.col("n_visits").first()
    )
    later = first.filter(pl.col("n_visits") > pl.col("first")).with_columns(
        recur=(pl.col("k") - 1) / (pl.col("n_visits") - pl.col("first"))
    )
    chronic, acute = _codes_by_kind()
    r_chronic = later.filter(pl.col("code").is_in(list(chronic)))["recur"].mean()
    r_acute = later.filter(pl.col("code").is_in(list(acute)))["recur"].mean()
    assert r_chronic > 0.2 and r_acute < 0.08 and r_chronic > 4 * r_acute


def test_sex_and_pregnancy_constraints() -> None:
    dx = h.diagnoses(SEED)
    codes = dx["code"].unique().to_list()
    male_only = [c for c in codes if sex_restriction(c) == "M"]
    female_only = [c for c in codes if sex_restriction(c) == "F"]
    pregnancy = [c for c in codes if is_pregnancy_code(c)]
    assert male_only and female_only and pregnancy  # the cohort does contain restricted codes
    assert dx.filter(pl.col("code").is_in(male_only))["sex"].unique().to_list() == ["M"]
    assert dx.filter(pl.col("code").is_in(female_only))["sex"].unique().to_list() == ["F"]
    preg = dx.filter(pl.col("code").is_in(pregnancy))
    age = (preg["time"] - preg["birth"]).dt.total_microseconds().to_numpy() / (365.25 * DAY_US)
    assert age.min() >= 15 and age.max() < 50


def test_chronic_prevalence_rises_with_age() -> None:
    dx = h.diagnoses(SEED)
    age = ((pl.col("time") - pl.col("birth")).dt.total_microseconds() / (365.25 * DAY_US)).alias("age")
    last = dx.group_by("subject_id").agg(pl.col("time").max(), pl.col("birth").first()).with_columns(age)
    has = set(dx.filter(pl.col("code") == "ICD10CM//I10")["subject_id"])
    last = last.with_columns(htn=pl.col("subject_id").is_in(list(has)))
    old = last.filter(pl.col("age") >= 65)["htn"].mean()
    young = last.filter(pl.col("age") < 40)["htn"].mean()
    assert old > 2 * young


def test_truly_coupled_pairs_have_higher_pmi() -> None:
    dx = h.diagnoses(SEED)
    codes = sorted(dx["code"].unique())
    index = {c: i for i, c in enumerate(codes)}
    visit = dx.select("subject_id", "time").with_columns(v=pl.struct("subject_id", "time").rank("dense") - 1)["v"]
    y = sparse.csr_matrix(
        (np.ones(dx.height), (visit.to_numpy(), np.array([index[c] for c in dx["code"]]))),
        shape=(int(visit.max()) + 1, len(codes)),
    )
    co = (y.T @ y).toarray()
    n = np.diag(co).astype(float)
    n_visits = y.shape[0]
    truth = np.zeros_like(co, dtype=bool)
    dep = h.metadata(SEED, "true_dependency")
    for a, b in zip(dep["code_a"], dep["code_b"], strict=True):
        truth[index[a], index[b]] = True
    i, j = np.triu_indices(len(codes), k=1)
    expected = n[i] * n[j] / n_visits
    ok = expected >= 1.0  # pairs frequent enough for a stable ratio
    pmi = np.log((co[i, j] + 1.0) / (expected + 1.0))
    coupled, uncoupled = pmi[ok & truth[i, j]], pmi[ok & ~truth[i, j]]
    assert coupled.size > 50 and uncoupled.size > 1000
    assert coupled.mean() > uncoupled.mean() + 1.0
    # Ranking pairs by empirical PMI recovers the truth well above chance (AUROC 0.5).
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(truth[i, j][ok], pmi[ok]) > 0.75
