"""MIMIC-III v1.4 layout on small hand-written fixtures: every bad-input rule is counted or raises; the
demo's lower-case headers read like the full release's.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from clincode.data.errors import DataError, DataNotFoundError
from clincode.data.sources import prepare_ehr
from clincode.data.sources.icd_format import dotted_code, dotted_str

PATIENTS = """ROW_ID,SUBJECT_ID,GENDER,DOB,DOD,DOD_HOSP,DOD_SSN,EXPIRE_FLAG
1,1,F,2050-03-01 00:00:00,,,,0
2,2,M,2040-01-01 00:00:00,2100-06-01 00:00:00,,,1
3,3,F,2060-01-01 00:00:00,,,,0
4,4,X,2030-01-01 00:00:00,,,,0
"""
ADMISSIONS = """ROW_ID,SUBJECT_ID,HADM_ID,ADMITTIME,DISCHTIME,DEATHTIME
1,1,101,2100-01-01 10:00:00,2100-01-05 12:00:00,
2,1,102,2101-01-01 10:00:00,2101-01-03 09:30:00,
3,1,103,2102-01-01 10:00:00,2102-01-02 08:00:00,
4,2,201,2099-01-01 10:00:00,2099-01-02 10:00:00,
5,2,202,2100-06-01 10:00:00,2100-06-01 15:00:00,
6,2,203,2100-07-01 10:00:00,2100-07-02 10:00:00,
7,3,301,2059-01-01 10:00:00,2059-01-02 10:00:00,
8,4,401,2090-01-01 10:00:00,2090-01-02 10:00:00,
"""
DIAGNOSES = """ROW_ID,SUBJECT_ID,HADM_ID,SEQ_NUM,ICD9_CODE
1,1,101,1,25000
2,1,101,2, 401.9
3,1,101,3,25000
4,1,102,1,E8809
5,1,102,2,
6,1,102,3,ABC!
7,1,999,1,4019
8,2,201,1,V707
9,2,202,1,4280
10,2,203,1,4280
11,3,301,1,4019
12,4,401,1,V9999
"""
PROCEDURES = """ROW_ID,SUBJECT_ID,HADM_ID,SEQ_NUM,ICD9_CODE
1,1,101,1,3961
2,1,103,1,9904
"""


def _write(root: Path, **overrides: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    tables = {"PATIENTS": PATIENTS, "ADMISSIONS": ADMISSIONS, "DIAGNOSES_ICD": DIAGNOSES, "PROCEDURES_ICD": PROCEDURES}
    tables.update(overrides)
    for name, text in tables.items():
        (root / f"{name}.csv").write_text(text)
    return root


def _prepare(tmp_path: Path, **kw: object) -> tuple[pl.DataFrame, dict]:
    out = prepare_ehr("mimic-iii", _write(tmp_path / "raw"), tmp_path / "out", progress=False, **kw)  # type: ignore[arg-type]
    return pl.read_parquet(out / "data"), json.loads((out / "metadata" / "dataset.json").read_text())


def test_every_rule_counted(tmp_path: Path) -> None:
    events, info = _prepare(tmp_path)
    skipped = info["counts"]["skipped"]
    assert skipped["codes_with_stray_spaces_or_dots"] == 1  # " 401.9"
    assert skipped["events_with_empty_code"] == 1
    assert skipped["events_with_malformed_code"] == 1  # ABC!
    assert skipped["events_with_unknown_admission"] == 1  # hadm 999
    assert skipped["duplicate_events_merged"] == 1  # 25000 twice in 101
    assert skipped["admissions_without_diagnoses"] == 1  # 103
    assert skipped["procedure_events_of_admissions_without_diagnoses"] == 1
    assert skipped["admissions_after_death"] == 1  # 203 after DOD 2100-06-01; 202 same day is kept
    assert skipped["admissions_before_birth"] == 1  # 301
    assert skipped["patients_with_unknown_gender"] == 1  # X
    assert skipped["patients_without_visits"] == 1  # patient 3
    assert skipped["patients_with_one_visit"] == 1  # patient 4 (patient 1 and 2 have two)
    got = set(events.filter(pl.col("time").is_not_null()).select("subject_id", "time", "code").iter_rows())
    assert got == {
        (1, datetime(2050, 3, 1), "MEDS_BIRTH"),
        (1, datetime(2100, 1, 5, 12), "ICD9CM//250.00"),
        (1, datetime(2100, 1, 5, 12), "ICD9CM//401.9"),
        (1, datetime(2100, 1, 5, 12), "ICD9PROC//39.61"),
        (1, datetime(2101, 1, 3, 9, 30), "ICD9CM//E880.9"),
        (2, datetime(2040, 1, 1), "MEDS_BIRTH"),
        (2, datetime(2099, 1, 2, 10), "ICD9CM//V70.7"),
        (2, datetime(2100, 6, 1, 15), "ICD9CM//428.0"),
        (3, datetime(2060, 1, 1), "MEDS_BIRTH"),
        (4, datetime(2030, 1, 1), "MEDS_BIRTH"),
        (4, datetime(2090, 1, 2, 10), "ICD9CM//V99.99"),
    }
    static = events.filter(pl.col("time").is_null()).sort("subject_id")
    assert static.select("subject_id", "code").rows() == [(1, "GENDER//F"), (2, "GENDER//M"), (3, "GENDER//F")]


def test_death_event_optional(tmp_path: Path) -> None:
    events, _ = _prepare(tmp_path, include_death=True)
    assert events.filter(pl.col("code") == "MEDS_DEATH").rows() == [(2, datetime(2100, 6, 1), "MEDS_DEATH", None)]


def test_icd9_to_icd10_counts_unmapped(tmp_path: Path) -> None:
    events, info = _prepare(tmp_path, icd9_to_icd10=True)
    codes = set(events["code"])
    assert {"ICD10CM//E11.9", "ICD10CM//I10", "ICD10CM//I50.9", "ICD10CM//Z00.6"} <= codes
    assert "ICD9CM//V99.99" in codes  # not in the GEM: kept and counted
    assert info["counts"]["skipped"]["icd9_codes_without_gem_mapping"] == 1
    assert info["counts"]["skipped"]["icd9_events_without_gem_mapping"] == 1
    assert "ICD9PROC//39.61" in codes  # procedures are not converted


def test_missing_column_is_clear_error(tmp_path: Path) -> None:
    bad = PATIENTS.replace("DOB", "BIRTHDATE")
    with pytest.raises(DataError, match=r"PATIENTS\.csv lacks column\(s\) \['DOB'\]"):
        prepare_ehr("mimic-iii", _write(tmp_path / "raw", PATIENTS=bad), tmp_path / "out", progress=False)


def test_unparseable_date_is_clear_error(tmp_path: Path) -> None:
    bad = ADMISSIONS.replace("2101-01-03 09:30:00", "03/01/2101")
    with pytest.raises(DataError, match=r"column 'DISCHTIME' has 1 unparseable date\(s\) \(first: '03/01/2101'\)"):
        prepare_ehr("mimic-iii", _write(tmp_path / "raw", ADMISSIONS=bad), tmp_path / "out", progress=False)


def test_missing_file_and_existing_output(tmp_path: Path) -> None:
    raw = _write(tmp_path / "raw")
    (raw / "PROCEDURES_ICD.csv").unlink()
    with pytest.raises(DataNotFoundError, match="PROCEDURES_ICD"):
        prepare_ehr("mimic-iii", raw, tmp_path / "out", progress=False)
    _write(raw)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        prepare_ehr("mimic-iii", raw, tmp_path / "full", progress=False)
    assert (tmp_path / "full" / "keep.txt").exists()
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="the output must be a directory path") as err:
        prepare_ehr("mimic-iii", raw, tmp_path / "file.txt", progress=False)
    assert "synthetic" not in str(err.value)


@pytest.mark.parametrize(
    ("body", "kind", "version", "expected"),
    [
        ("E119", "diagnosis", 10, "ICD10CM//E11.9"),
        ("I10", "diagnosis", 10, "ICD10CM//I10"),
        ("S52521A", "diagnosis", 10, "ICD10CM//S52.521A"),
        ("25000", "diagnosis", 9, "ICD9CM//250.00"),
        ("E8809", "diagnosis", 9, "ICD9CM//E880.9"),
        ("E880", "diagnosis", 9, "ICD9CM//E880"),
        ("V707", "diagnosis", 9, "ICD9CM//V70.7"),
        ("3961", "procedure", 9, "ICD9PROC//39.61"),
        ("0DTJ4ZZ", "procedure", 10, "ICD10PCS//0DTJ4ZZ"),
    ],
)
def test_dotted_codes(body: str, kind: str, version: int, expected: str) -> None:
    assert dotted_str(body, kind, version) == expected
    expr = pl.select(dotted_code(pl.lit(body), kind, version)).item()
    assert expr == expected


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
