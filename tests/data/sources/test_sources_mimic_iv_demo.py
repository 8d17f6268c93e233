"""End to end on the real MIMIC-IV demo (../shared/data/mimic-iv-demo-2.2; skipped when it is absent):
prepare, validate, check against the raw CSVs, build a task.
"""

from __future__ import annotations

import csv
import gzip
import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
import torch

from clincode.data.schema import validate_meds_dir
from clincode.data.sources import prepare_ehr
from clincode.tasks.next_visit.batches import NextVisitCollator, next_visit_dataset
from clincode.tasks.next_visit.build import build_next_visit

pytestmark = pytest.mark.slow  # reads the real MIMIC-IV demo


@pytest.fixture(scope="module")
def demo(shared_data) -> Path:
    return shared_data("mimic-iv-demo-2.2")


def _rows(demo: Path, name: str) -> list[dict[str, str]]:
    with gzip.open(demo / "hosp" / f"{name}.csv.gz", "rt", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def prepared(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_ehr("mimic-iv", demo, tmp_path_factory.mktemp("m4") / "out", progress=False)


def test_layout_and_dtypes(prepared: Path) -> None:
    layout = validate_meds_dir(prepared)
    assert all(n > 0 for n in layout.split_sizes.values())
    events = pl.read_parquet(layout.shards)
    assert events.schema == pl.Schema(
        {"subject_id": pl.Int64, "time": pl.Datetime("us"), "code": pl.String, "numeric_value": pl.Float32}
    )
    codes = pl.read_parquet(prepared / "metadata" / "codes.parquet")
    assert codes.schema["parent_codes"] == pl.List(pl.String)
    assert set(codes["code"]) == set(events["code"])


def test_events_match_raw_tables(demo: Path, prepared: Path) -> None:
    events = pl.read_parquet(prepared / "data")
    patients = _rows(demo, "patients")
    admissions = {r["hadm_id"]: r for r in _rows(demo, "admissions")}
    # One birth, one gender per patient; birth = Jan 1 of anchor_year - anchor_age.
    for p in patients[:10]:
        mine = events.filter(pl.col("subject_id") == int(p["subject_id"]))
        birth = mine.filter(pl.col("code") == "MEDS_BIRTH")["time"].to_list()
        assert birth == [datetime(int(p["anchor_year"]) - int(p["anchor_age"]), 1, 1)]
        assert mine.filter(pl.col("time").is_null())["code"].to_list() == [f"GENDER//{p['gender']}"]
    # Every raw diagnosis appears at its admission's discharge time with the dotted, prefixed code.
    expected = set()
    for r in _rows(demo, "diagnoses_icd"):
        code = r["icd_code"]
        if r["icd_version"] == "10":
            name = f"ICD10CM//{code[:3]}.{code[3:]}" if len(code) > 3 else f"ICD10CM//{code}"
        else:
            cut = 4 if code.startswith("E") else 3
            name = f"ICD9CM//{code[:cut]}.{code[cut:]}" if len(code) > cut else f"ICD9CM//{code}"
        disch = datetime.strptime(admissions[r["hadm_id"]]["dischtime"], "%Y-%m-%d %H:%M:%S")
        expected.add((int(r["subject_id"]), disch, name))
    got = set(events.filter(pl.col("code").str.contains("^ICD(9|10)CM//")).select("subject_id", "time", "code").iter_rows())
    assert got == expected
    info = json.loads((prepared / "metadata" / "dataset.json").read_text())
    assert info["counts"]["subjects"] == len(patients)
    assert info["counts"]["visits"] == len({r["hadm_id"] for r in _rows(demo, "diagnoses_icd")})
    assert set(info["counts"]["skipped"]) >= {"admissions_without_diagnoses", "patients_with_one_visit", "admissions_after_death"}
    n_raw_px = len(_rows(demo, "procedures_icd"))
    n_px = events.filter(pl.col("code").str.starts_with("ICD9PROC//") | pl.col("code").str.starts_with("ICD10PCS//")).height
    assert 0 < n_px <= n_raw_px


def test_next_visit_task_builds(prepared: Path) -> None:
    data = build_next_visit(prepared, num_labels=50, progress=False)
    # 50 label columns: the most frequent diagnosis codes of the training split.
    codes = list(data.label_space.codes_)
    assert data.num_labels == len(codes) == 50
    assert all(c.startswith(("ICD10CM//", "ICD9CM//")) for c in codes)
    splits = pl.read_parquet(prepared / "metadata" / "subject_splits.parquet")
    events = pl.read_parquet(prepared / "data")
    train_ids = splits.filter(pl.col("split") == "train")["subject_id"]
    in_train = events.filter(pl.col("subject_id").is_in(train_ids.implode()) & pl.col("code").is_in(codes))
    assert set(in_train["code"]) == set(codes)  # every label is seen in training
    # Patients stay in their split, no patient in two splits, every kept patient has a target visit.
    split_of = dict(splits.iter_rows())
    seen: set[int] = set()
    for name in ("train", "tuning", "held_out"):
        table = data.split(name)
        ids = set(table["subject_id"].to_list())
        assert ids and not ids & seen
        seen |= ids
        assert {split_of[i] for i in ids} == {name}
        assert table["visit_time"].list.len().min() >= 2
    # A batch of the first four training patients carries the batch contract with consistent shapes.
    ds = next_visit_dataset(data, "train")
    batch = NextVisitCollator(data.num_labels)([ds[i] for i in range(4)])
    assert set(batch) >= {"codes", "visit", "age", "token_mask", "visit_mask", "sex", "targets", "subject_id", "visit_time"}
    b, t, v = batch["targets"].shape
    assert (b, v) == (4, 50) and batch["visit_mask"].shape == (4, t) and batch["codes"].shape == batch["token_mask"].shape
    n_visits = batch["visit_mask"].sum(dim=1)
    assert n_visits.tolist() == data.split("train")["visit_time"].list.len().head(4).to_list()
    last = batch["targets"][torch.arange(b), n_visits - 1]
    assert bool((last == -1).all())  # the last visit has no next visit to score
    assert int((batch["targets"] == 1).sum()) > 0


def test_splits_deterministic_by_seed(demo: Path, prepared: Path, tmp_path: Path) -> None:
    again = prepare_ehr("mimic-iv", demo / "hosp", tmp_path / "again", progress=False)
    other = prepare_ehr("mimic-iv", demo, tmp_path / "other", seed=1, progress=False)

    def read(p: Path) -> pl.DataFrame:
        return pl.read_parquet(p / "metadata" / "subject_splits.parquet").sort("subject_id")

    assert read(prepared).equals(read(again))
    assert not read(prepared).equals(read(other))
    assert read(prepared).group_by("split").len().sort("split")["len"].to_list() == [10, 80, 10]  # held_out, train, tuning


def test_icd9_to_icd10_merges_label_space(demo: Path, tmp_path: Path) -> None:
    out = prepare_ehr("mimic-iv", demo, tmp_path / "gem", icd9_to_icd10=True, progress=False)
    events = pl.read_parquet(out / "data")
    info = json.loads((out / "metadata" / "dataset.json").read_text())
    n_icd9 = events.filter(pl.col("code").str.starts_with("ICD9CM//"))["code"].n_unique()
    assert n_icd9 == info["counts"]["skipped"]["icd9_codes_without_gem_mapping"]
    assert info["parameters"]["icd9_to_icd10"] is True
    # 10035185's ICD-9 4139 (angina) becomes ICD-10-CM I20.8 per the CMS GEM.
    mine = events.filter(pl.col("subject_id") == 10035185)["code"].to_list()
    assert "ICD10CM//I20.8" in mine and "ICD9CM//413.9" not in mine
