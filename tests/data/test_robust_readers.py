"""Reader robustness: MIMIC header case, MEDS split files, synthetic sizes, staging leftovers."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from clincode.data.errors import DataError
from clincode.data.sources import prepare_ehr
from clincode.data.synthetic.params import SynthParams, min_patients_for_splits
from clincode.io import check_free_space, clean_stale_staging, staging_dir


def _mimic3_lowercase(root: Path) -> Path:
    """The PhysioNet MIMIC-III demo layout: upper-case file names, lower-case headers."""
    root.mkdir()
    (root / "PATIENTS.csv").write_text(
        "row_id,subject_id,gender,dob,dod\n1,1,F,2100-01-01 00:00:00,\n2,2,M,2090-01-01 00:00:00,\n"
        "3,3,F,2080-01-01 00:00:00,\n"
    )
    (root / "ADMISSIONS.csv").write_text(
        "row_id,subject_id,hadm_id,dischtime\n1,1,11,2150-01-02 00:00:00\n2,1,12,2151-01-02 00:00:00\n"
        "3,2,21,2140-01-02 00:00:00\n4,3,31,2130-01-02 00:00:00\n"
    )
    (root / "DIAGNOSES_ICD.csv").write_text(
        "row_id,subject_id,hadm_id,seq_num,icd9_code\n1,1,11,1,4019\n2,1,12,1,25000\n3,2,21,1,4019\n4,3,31,1,4019\n"
    )
    (root / "procedures_icd.csv").write_text("row_id,subject_id,hadm_id,seq_num,icd9_code\n1,1,11,1,3995\n")
    return root


def test_mimic_iii_lowercase_headers(tmp_path: Path) -> None:
    src = _mimic3_lowercase(tmp_path / "m3")
    out = prepare_ehr("mimic-iii", src, tmp_path / "out", progress=False)
    events = pl.read_parquet(next((out / "data").rglob("*.parquet")))
    assert {"ICD9CM//401.9", "ICD9CM//250.00"} <= set(events["code"].to_list())


def _meds(root: Path, splits: pl.DataFrame) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "metadata").mkdir()
    pl.DataFrame(
        {
            "subject_id": [1, 1, 2, 2, 3, 3],
            "time": pl.Series([f"2020-0{m}-01" for m in (1, 2, 1, 2, 1, 2)]).str.to_datetime(),
            "code": ["ICD10CM//I10", "ICD10CM//E11.9"] * 3,
            "numeric_value": pl.Series([None] * 6, dtype=pl.Float32),
        }
    ).write_parquet(root / "data" / "0.parquet")
    splits.write_parquet(root / "metadata" / "subject_splits.parquet")
    return root


@pytest.mark.parametrize(
    ("splits", "needle"),
    [
        (pl.DataFrame({"subject_id": [1, 2, 3], "split": ["train", "dev", "held_out"]}), "dev"),
        (pl.DataFrame({"subject_id": [1, 1, 2, 3], "split": ["train", "tuning", "tuning", "held_out"]}), "both"),
        (pl.DataFrame({"subject_id": [1, 2], "split": ["train", "tuning"]}), "held_out"),
    ],
)
def test_prepare_meds_rejects_invalid_split_file(tmp_path: Path, splits: pl.DataFrame, needle: str) -> None:
    src = _meds(tmp_path / "meds", splits)
    with pytest.raises(DataError, match=needle):
        prepare_ehr("meds", src, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_prepare_meds_keeps_valid_split_file(tmp_path: Path) -> None:
    splits = pl.DataFrame({"subject_id": [1, 2, 3], "split": ["train", "tuning", "held_out"]})
    out = prepare_ehr("meds", _meds(tmp_path / "meds", splits), tmp_path / "out", progress=False)
    got = pl.read_parquet(out / "metadata" / "subject_splits.parquet").sort("subject_id")
    assert got["split"].to_list() == ["train", "tuning", "held_out"]


def test_synth_sizes_need_every_split() -> None:
    assert min_patients_for_splits() == 7
    with pytest.raises(ValueError, match="tuning, held_out"):
        SynthParams(n_patients=3, n_codes=50).validate()
    SynthParams(n_patients=7, n_codes=50).validate()


def test_free_space_error_names_path_and_numbers(tmp_path: Path) -> None:
    with pytest.raises(OSError, match=rf"needs about .* but {tmp_path}.* has only .* free"):
        check_free_space(tmp_path, 1 << 60, "a test output")


def test_stale_staging_dirs_are_removed_and_reported(tmp_path: Path) -> None:
    out = tmp_path / "cohort"
    stale = tmp_path / ".cohort.tmp-999999999-abcd"  # no such process
    stale.mkdir()
    (stale / "half.parquet").write_bytes(b"x")
    live = tmp_path / f".cohort.tmp-{os.getpid()}-beef"  # this process: kept
    live.mkdir()
    notes: list[str] = []
    assert clean_stale_staging(out, notes.append) == [stale]
    assert not stale.exists() and live.exists()
    assert "interrupted" in notes[0] and str(stale) in notes[0]
    live.rmdir()
    with staging_dir(out, overwrite=False) as tmp:
        (tmp / "f").write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort"]
