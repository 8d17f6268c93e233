"""Synthetic EHR cohort: files, schemas, determinism, splits, atomic output and bad input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from clincode.codes import describe, icd10_parent, is_billable_icd10cm
from clincode.data.synthetic import ehr, generate_ehr_cohort
from clincode.data.synthetic.ehr import FIRST_SUBJECT_ID
from clincode.data.synthetic.params import SynthParams, min_patients_for_splits
from clincode.data.synthetic.universe import available_codes
from helpers import synthetic_cohorts as h

SEED = 7


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_shards() -> None:
    root = h.cohort(SEED)
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert names == [
        "data/shard_00000.parquet", "data/shard_00001.parquet", "data/shard_00002.parquet",
        "metadata/codes.parquet", "metadata/dataset.json", "metadata/latent_processes.parquet",
        "metadata/subject_splits.parquet", "metadata/true_dependency.parquet",
    ]  # fmt: skip
    ev = h.events(SEED)
    per_shard = ev.group_by("subject_id").agg(pl.col("shard").n_unique().alias("n"), pl.col("shard").first())
    assert per_shard["n"].max() == 1  # patients never split across shards
    assert per_shard.group_by("shard").len().sort("shard")["len"].to_list() == [1000, 1000, 1000]
    assert no_temp_leftovers(root.parent)


def no_temp_leftovers(parent: Path) -> bool:
    return not [p for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_event_schema_and_order() -> None:
    for shard in sorted((h.cohort(SEED) / "data").glob("*.parquet")):
        df = pl.read_parquet(shard)
        assert df.schema == pl.Schema(
            {"subject_id": pl.Int64, "time": pl.Datetime("us"), "code": pl.String, "numeric_value": pl.Float32}
        )
        assert df["numeric_value"].null_count() == df.height
        # Sorted by subject then time with nulls (static events) first.
        key = df.select("subject_id", t=pl.col("time").dt.epoch("us").fill_null(np.iinfo(np.int64).min))
        assert key.equals(key.sort("subject_id", "t"))
        nulls = df.filter(pl.col("time").is_null())
        assert nulls["code"].str.starts_with("GENDER//").all()


def test_static_events_and_codes() -> None:
    ev = h.events(SEED)
    per = ev.group_by("subject_id").agg(
        gender=(pl.col("code").str.starts_with("GENDER//")).sum(),
        birth=(pl.col("code") == "MEDS_BIRTH").sum(),
        dx=(pl.col("code").str.starts_with("ICD10CM//")).sum(),
    )
    assert per.height == h.N_PATIENTS
    assert (per["gender"] == 1).all() and (per["birth"] == 1).all() and (per["dx"] >= 1).all()
    assert set(ev["code"].unique()) - {"GENDER//F", "GENDER//M", "MEDS_BIRTH"} == set(
        ev.filter(pl.col("code").str.starts_with("ICD10CM//"))["code"].unique()
    )
    dx_codes = ev.filter(pl.col("code").str.starts_with("ICD10CM//"))["code"].unique().to_list()
    assert all(is_billable_icd10cm(c) for c in dx_codes)
    assert all("." in c or len(c) == len("ICD10CM//") + 3 for c in dx_codes)  # dotted form
    assert sorted(ev["subject_id"].unique()) == list(range(FIRST_SUBJECT_ID, FIRST_SUBJECT_ID + h.N_PATIENTS))


def test_codes_metadata() -> None:
    codes = h.metadata(SEED, "codes")
    assert codes.schema == pl.Schema({"code": pl.String, "description": pl.String, "parent_codes": pl.List(pl.String)})
    assert set(codes["code"]) == set(h.events(SEED)["code"].unique())
    for row in codes.sample(50, seed=0).iter_rows(named=True):
        assert row["description"] == describe(row["code"])
        parent = icd10_parent(row["code"]) if row["code"].startswith("ICD10CM//") else None
        assert row["parent_codes"] == ([parent] if parent else [])
    e119 = codes.filter(pl.col("code") == "ICD10CM//E11.9")
    assert e119["parent_codes"].to_list() == [["ICD10CM//E11"]]


def test_splits_partition_patients() -> None:
    splits = h.metadata(SEED, "subject_splits")
    assert splits.schema == pl.Schema({"subject_id": pl.Int64, "split": pl.String})
    assert splits["subject_id"].n_unique() == splits.height == h.N_PATIENTS
    assert set(splits["subject_id"]) == set(h.events(SEED)["subject_id"].unique())
    sizes = dict(splits.group_by("split").len().iter_rows())
    assert sizes == {"train": 2400, "tuning": 300, "held_out": 300}


def test_true_dependency_schema() -> None:
    dep = h.metadata(SEED, "true_dependency")
    assert dep.schema == pl.Schema({"code_a": pl.String, "code_b": pl.String, "coupling": pl.Float64})
    assert dep.height > 100
    assert (dep["code_a"] < dep["code_b"]).all()
    assert (dep["coupling"] > 0).all()
    assert dep.select(pl.struct("code_a", "code_b").n_unique()).item() == dep.height
    used = set(h.metadata(SEED, "codes")["code"])
    assert set(dep["code_a"]) | set(dep["code_b"]) <= used


def test_dataset_json() -> None:
    info = json.loads((h.cohort(SEED) / "metadata" / "dataset.json").read_text())
    assert info["generator"] == "clincode.synthetic_ehr" and info["seed"] == SEED
    assert info["parameters"]["n_patients"] == h.N_PATIENTS and info["parameters"]["n_codes"] == h.N_CODES
    assert info["parameters"]["seed"] == SEED and info["parameters"]["shard_size"] == h.SHARD_SIZE
    ev = h.events(SEED)
    dx = ev.filter(pl.col("code").str.starts_with("ICD10CM//"))
    counts = info["counts"]
    assert counts["patients"] == h.N_PATIENTS and counts["events"] == ev.height
    assert counts["diagnosis_events"] == dx.height
    assert counts["visits"] == dx.select("subject_id", "time").n_unique()
    assert counts["codes_used"] == dx["code"].n_unique() and counts["codes_in_universe"] == h.N_CODES
    assert counts["coupled_pairs"] == h.metadata(SEED, "true_dependency").height
    assert "coupling" in info["true_dependency"]["definition"]


def test_same_seed_gives_identical_bytes_and_other_seed_differs() -> None:
    a, b = _files(h.cohort(SEED)), _files(h.cohort(SEED, name="b"))
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    c = _files(h.cohort(SEED + 1))
    assert c["data/shard_00000.parquet"] != a["data/shard_00000.parquet"]
    assert c["metadata/true_dependency.parquet"] != a["metadata/true_dependency.parquet"]


def test_overwrite_replaces_and_empty_dir_is_fine(tmp_path: Path) -> None:
    out = tmp_path / "cohort"
    out.mkdir()  # an existing empty directory is accepted
    generate_ehr_cohort(out, n_patients=20, n_codes=30, seed=1, progress=False)
    first = _files(out)
    with pytest.raises(FileExistsError, match="exists and is not empty; pass overwrite=True"):
        generate_ehr_cohort(out, n_patients=20, n_codes=30, seed=2, progress=False)
    assert _files(out) == first  # untouched
    generate_ehr_cohort(out, n_patients=20, n_codes=30, seed=2, progress=True, overwrite=True)
    assert _files(out) != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort"]


def test_failure_leaves_no_half_written_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash while writing metadata")

    monkeypatch.setattr(ehr, "_write_metadata", boom)
    out = tmp_path / "cohort"
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate_ehr_cohort(out, n_patients=50, n_codes=30, seed=1, shard_size=20, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"n_patients": 0}, ValueError, "n_patients=0 must be an integer >= 1"),
        ({"n_patients": -5}, ValueError, "n_patients=-5 must be an integer >= 1"),
        ({"n_patients": True}, ValueError, "n_patients=True must be an integer"),
        ({"n_codes": 0}, ValueError, "n_codes=0 must be an integer >= 1"),
        ({"n_codes": 10_000_000}, ValueError, "n_codes=10000000 exceeds the"),
        ({"shard_size": 0}, ValueError, "shard_size=0 must be an integer >= 1"),
        ({"seed": -1}, ValueError, "seed=-1 must be an integer >= 0"),
        ({"mean_visits": 0.5}, ValueError, "mean_visits=0.5 must be a finite number >= 1"),
        ({"split_fractions": (0.8, 0.1, 0.2)}, ValueError, "must sum to 1"),
        ({"start_date": "yesterday"}, ValueError, "start_date='yesterday' is not an ISO date"),
        ({"background_fraction": 1.0}, ValueError, "background_fraction must be below 1"),
    ],
)
def test_bad_parameters(tmp_path: Path, kwargs: dict, error: type, needle: str) -> None:
    args = {"n_patients": 10, "n_codes": 20, "progress": False} | kwargs
    with pytest.raises(error, match=needle.replace("(", r"\(").replace(")", r"\)")):
        generate_ehr_cohort(tmp_path / "out", **args)
    assert list(tmp_path.iterdir()) == []


def test_n_codes_limit_is_the_available_codes() -> None:
    assert 60_000 < available_codes() < 75_000


def test_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist; create the parent directory"):
        generate_ehr_cohort(tmp_path / "missing" / "out", n_patients=7, n_codes=5, progress=False)
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(NotADirectoryError, match="exists and is a file"):
        generate_ehr_cohort(file, n_patients=7, n_codes=5, progress=False, overwrite=True)
    assert file.read_text() == "x"


def test_times_inside_study_window() -> None:
    ev = h.events(SEED).filter(pl.col("code").str.starts_with("ICD10CM//"))
    assert ev["time"].min() >= dt.datetime(2010, 1, 1)
    assert ev["time"].max() <= dt.datetime(2025, 1, 1)


def test_synth_sizes_need_every_split() -> None:
    assert min_patients_for_splits() == 7
    with pytest.raises(ValueError, match="tuning, held_out"):
        SynthParams(n_patients=3, n_codes=50).validate()
    SynthParams(n_patients=7, n_codes=50).validate()
