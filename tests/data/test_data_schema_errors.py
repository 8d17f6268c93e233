"""Bad MEDS inputs: each raises DataError with one sentence naming what, where and the expectation."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from clincode.data.schema import DataError, DataNotFoundError, validate_meds_dir
from clincode.tasks.next_visit.build import build_next_visit
from helpers.meds_cohorts import write_meds

D = dt.datetime


def good_events() -> tuple[list, dict]:
    events = []
    for sid in range(1, 7):
        events += [(sid, None, "GENDER//F"), (sid, D(2000, 1, 1), "ICD10CM//A00.0"), (sid, D(2000, 2, 1), "ICD10CM//B00.0")]
    return events, {1: "train", 2: "train", 3: "tuning", 4: "tuning", 5: "held_out", 6: "held_out"}


@pytest.fixture
def meds(tmp_path):
    events, splits = good_events()
    return write_meds(tmp_path / "meds", events, splits)


def shard(root):
    return root / "data" / "0.parquet"


def one_sentence(message: str) -> None:
    body = message.rstrip(".?")
    assert "\n" not in message and body.count(". ") == 0, message


def test_valid_dir_passes(meds):
    layout = validate_meds_dir(meds)
    assert layout.num_events == 18
    assert layout.split_sizes == {"train": 2, "tuning": 2, "held_out": 2}
    assert layout.shards == (shard(meds),)


def test_nonexistent_path(tmp_path):
    missing = tmp_path / "no_such_dir"
    with pytest.raises(DataNotFoundError) as err:
        build_next_visit(missing, progress=False)
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, DataError)
    assert str(missing) in str(err.value) and "does not exist" in str(err.value)
    one_sentence(str(err.value))


def test_missing_data_folder(meds):
    import shutil

    shutil.rmtree(meds / "data")
    with pytest.raises(DataNotFoundError, match=r"data does not exist"):
        validate_meds_dir(meds)


def test_missing_column(meds):
    pl.read_parquet(shard(meds)).drop("code").write_parquet(shard(meds))
    with pytest.raises(DataError) as err:
        build_next_visit(meds, progress=False)
    msg = str(err.value)
    assert "0.parquet" in msg and "'code'" in msg and "String" in msg
    one_sentence(msg)


def test_misnamed_column(meds):
    pl.read_parquet(shard(meds)).rename({"subject_id": "patient_id"}).write_parquet(shard(meds))
    with pytest.raises(DataError) as err:
        validate_meds_dir(meds)
    msg = str(err.value)
    assert "0.parquet" in msg and "'subject_id'" in msg and "patient_id" in msg
    one_sentence(msg)


@pytest.mark.parametrize(
    ("column", "cast", "expected"),
    [
        ("code", pl.col("code").cast(pl.Categorical).to_physical().cast(pl.Int64), "String"),
        ("time", pl.col("time").cast(pl.String), "Datetime"),
        ("subject_id", pl.col("subject_id").cast(pl.Float64), "integer"),
        ("numeric_value", pl.lit("x").alias("numeric_value"), "float"),
    ],
)
def test_wrong_dtype(meds, column, cast, expected):
    pl.read_parquet(shard(meds)).with_columns(cast.alias(column)).write_parquet(shard(meds))
    with pytest.raises(DataError) as err:
        build_next_visit(meds, progress=False)
    msg = str(err.value)
    assert "0.parquet" in msg and f"'{column}'" in msg and expected in msg
    one_sentence(msg)


def test_empty_dataset_no_rows(meds):
    pl.read_parquet(shard(meds)).head(0).write_parquet(shard(meds))
    with pytest.raises(DataError, match=r"no event rows; the dataset is empty") as err:
        build_next_visit(meds, progress=False)
    one_sentence(str(err.value))


def test_empty_dataset_no_shards(meds):
    shard(meds).unlink()
    with pytest.raises(DataError, match=r"holds no parquet shards") as err:
        validate_meds_dir(meds)
    one_sentence(str(err.value))


def test_not_a_parquet_file(meds):
    shard(meds).write_text("subject_id,time,code\n")
    with pytest.raises(DataError, match=r"0\.parquet is not a readable parquet file"):
        validate_meds_dir(meds)


def test_split_file_without_a_split(meds):
    path = meds / "metadata" / "subject_splits.parquet"
    pl.read_parquet(path).filter(pl.col("split") != "tuning").write_parquet(path)
    with pytest.raises(DataError) as err:
        build_next_visit(meds, progress=False)
    msg = str(err.value)
    assert "split 'tuning' has no patients" in msg and "subject_splits.parquet" in msg
    one_sentence(msg)


def test_split_with_no_usable_patient(tmp_path):
    events, splits = good_events()
    events = [e for e in events if not (e[0] == 5 and e[2] == "ICD10CM//B00.0")]  # held_out: 1 visit left
    events = [e for e in events if e[0] != 6]
    root = write_meds(tmp_path / "m", events, splits)
    with pytest.raises(DataError) as err:
        build_next_visit(root, progress=False, num_labels=2)
    msg = str(err.value)
    assert "split 'held_out' has no patient with at least 2 visits" in msg and "1 dropped" in msg
    one_sentence(msg)


def test_missing_split_file(meds):
    (meds / "metadata" / "subject_splits.parquet").unlink()
    with pytest.raises(DataNotFoundError, match=r"subject_splits\.parquet does not exist"):
        build_next_visit(meds, progress=False)


def test_split_file_bad_values(meds):
    path = meds / "metadata" / "subject_splits.parquet"
    pl.DataFrame({"subject_id": [1, 2, 3], "split": ["train", "test", "held_out"]}).write_parquet(path)
    with pytest.raises(DataError, match=r"split name\(s\) \['test'\]; expected only \['train', 'tuning', 'held_out'\]"):
        validate_meds_dir(meds)
    pl.DataFrame({"subject_id": [1, 1, 3, 4], "split": ["train", "held_out", "tuning", "held_out"]}).write_parquet(path)
    with pytest.raises(DataError, match=r"both split 'train' and split 'held_out' \(e\.g\. subject_id 1\)"):
        validate_meds_dir(meds)
    pl.DataFrame({"subject": [1], "split": ["train"]}).write_parquet(path)
    with pytest.raises(DataError, match=r"no column 'subject_id'.*'subject' meant to be 'subject_id'"):
        validate_meds_dir(meds)


def test_num_labels_larger_than_codes_seen(meds):
    with pytest.raises(DataError) as err:
        build_next_visit(meds, num_labels=1538, progress=False)
    msg = str(err.value)
    assert "num_labels=1538" in msg and "2 distinct" in msg and "training split" in msg
    one_sentence(msg)


def test_bad_arguments(meds):
    with pytest.raises(ValueError, match="label level 'icd'"):
        build_next_visit(meds, label_level="icd", progress=False)
    with pytest.raises(ValueError, match="max_visits must be >= 2"):
        build_next_visit(meds, max_visits=1, progress=False)
