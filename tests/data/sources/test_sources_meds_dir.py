"""A MEDS dataset as source: canonical dtypes, source splits kept (invalid split files refused),
out-of-life events counted.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from clincode.data.errors import DataError
from clincode.data.sources import prepare_ehr


def _meds(root: Path, with_splits: bool) -> Path:
    (root / "data" / "train").mkdir(parents=True)
    (root / "metadata").mkdir()
    pl.DataFrame(
        {
            "subject_id": pl.Series([1, 1, 1, 1, 2, 2, 3, 3, None], dtype=pl.Int32),
            "time": pl.Series(
                [None, date(1990, 1, 1), date(1989, 5, 1), date(2020, 1, 1), date(1980, 1, 1), date(2021, 3, 1),
                 date(1970, 1, 1), date(2022, 1, 1), date(2022, 1, 1)],
                dtype=pl.Date,
            ),
            "code": ["GENDER//F", "MEDS_BIRTH", "ICD10CM//I10", "ICD10CM//E11.9", "MEDS_BIRTH", "ICD10CM//I10",
                     "MEDS_BIRTH", None, "ICD10CM//I10"],
        }
    ).write_parquet(root / "data" / "train" / "0.parquet")
    pl.DataFrame({"code": ["ICD10CM//I10"], "description": ["hypertension (source text)"]}).write_parquet(
        root / "metadata" / "codes.parquet"
    )
    if with_splits:
        pl.DataFrame({"subject_id": [1, 2, 3], "split": ["tuning", "train", "held_out"]}).write_parquet(
            root / "metadata" / "subject_splits.parquet"
        )
    return root


def test_meds_source(tmp_path: Path) -> None:
    out = prepare_ehr("meds", _meds(tmp_path / "src", True), tmp_path / "out", progress=False)
    events = pl.read_parquet(out / "data")
    assert events.schema["time"] == pl.Datetime("us") and events.schema["numeric_value"] == pl.Float32
    assert events.select("subject_id", "time", "code").rows() == [
        (1, None, "GENDER//F"),
        (1, datetime(1990, 1, 1), "MEDS_BIRTH"),
        (1, datetime(2020, 1, 1), "ICD10CM//E11.9"),
        (2, datetime(1980, 1, 1), "MEDS_BIRTH"),
        (2, datetime(2021, 3, 1), "ICD10CM//I10"),
        (3, datetime(1970, 1, 1), "MEDS_BIRTH"),
    ]
    info = json.loads((out / "metadata" / "dataset.json").read_text())
    assert info["counts"]["skipped"]["events_before_birth"] == 1
    assert info["counts"]["skipped"]["events_with_null_subject_or_code"] == 2
    assert info["parameters"]["splits"] == "source"
    splits = pl.read_parquet(out / "metadata" / "subject_splits.parquet").sort("subject_id")
    assert splits["split"].to_list() == ["tuning", "train", "held_out"]
    codes = dict(pl.read_parquet(out / "metadata" / "codes.parquet").select("code", "description").iter_rows())
    assert codes["MEDS_BIRTH"] == "Birth"
    assert codes["ICD10CM//E11.9"].startswith("Type 2 diabetes")


def test_meds_source_without_splits_draws_them(tmp_path: Path) -> None:
    out = prepare_ehr("meds", _meds(tmp_path / "src", False), tmp_path / "out", progress=False)
    info = json.loads((out / "metadata" / "dataset.json").read_text())
    assert info["parameters"]["splits"] == "drawn"
    assert info["counts"]["subjects_per_split"] == {"train": 1, "tuning": 1, "held_out": 1}


def _meds_with_split_file(root: Path, splits: pl.DataFrame) -> Path:
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
    src = _meds_with_split_file(tmp_path / "meds", splits)
    with pytest.raises(DataError, match=needle):
        prepare_ehr("meds", src, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_prepare_meds_keeps_valid_split_file(tmp_path: Path) -> None:
    splits = pl.DataFrame({"subject_id": [1, 2, 3], "split": ["train", "tuning", "held_out"]})
    out = prepare_ehr("meds", _meds_with_split_file(tmp_path / "meds", splits), tmp_path / "out", progress=False)
    got = pl.read_parquet(out / "metadata" / "subject_splits.parquet").sort("subject_id")
    assert got["split"].to_list() == ["train", "tuning", "held_out"]
