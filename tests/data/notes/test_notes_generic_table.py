"""read_notes_table on parquet / CSV / JSONL fixtures with renamed columns, and every bad input."""

import json
from pathlib import Path

import polars as pl
import pytest

from clincode.data.errors import DataError, DataNotFoundError
from clincode.data.notes import read_notes_table

COLUMNS = {"doc_id": "note", "subject_id": "patient", "text": "body", "codes": "labels", "split": "fold"}
ROWS = [
    {"note": "a", "patient": 10, "body": "Chest pain.", "labels": ["ICD10CM//i20.9", "ICD10PCS//0dtj4zz"],
     "fold": "train"},
    {"note": "b", "patient": 10, "body": "Diabetes.", "labels": ["ICD10CM//E119", "ICD10CM//E11.9"], "fold": "dev"},
    {"note": "c", "patient": 11, "body": "Fever.", "labels": ["ICD9CM//25000"], "fold": "test"},
    {"note": "d", "patient": 12, "body": "Nothing coded.", "labels": [], "fold": "train"},
]
SPLITS = {"dev": "tuning", "test": "held_out"}
EXPECTED_CODES = [
    ["ICD10CM//I20.9", "ICD10PCS//0DTJ4ZZ"],
    ["ICD10CM//E11.9"],  # undotted and dotted spellings are one code
    ["ICD9CM//250.00"],
    [],
]


def write(rows: list[dict], path: Path) -> Path:
    if path.suffix == ".parquet":
        pl.DataFrame(rows, schema_overrides={"labels": pl.List(pl.String)}).write_parquet(path)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        flat = [{**r, "labels": ";".join(r["labels"])} for r in rows]
        pl.DataFrame(flat).write_csv(path)
    return path


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".csv"])
def test_reads_every_format(tmp_path, suffix):
    path = write(ROWS, tmp_path / f"notes{suffix}")
    sep = ";" if suffix == ".csv" else None
    table = read_notes_table(path, columns=COLUMNS, codes_sep=sep, split_names=SPLITS)
    frame = table.frame
    assert frame.columns == ["doc_id", "subject_id", "text", "codes", "split"]
    assert frame.schema["subject_id"] == pl.Int64 and frame.schema["codes"] == pl.List(pl.String)
    assert frame["doc_id"].to_list() == ["a", "b", "c", "d"]
    assert frame["subject_id"].to_list() == [10, 10, 11, 12]
    assert frame["text"].to_list() == [r["body"] for r in ROWS]
    assert frame["codes"].to_list() == EXPECTED_CODES
    assert frame["split"].to_list() == ["train", "tuning", "held_out", "train"]
    assert table.skipped == {} and table.unknown_codes == {}


def test_string_subject_ids_and_canonical_names(tmp_path):
    rows = [{"doc_id": "x", "subject_id": "p-1", "text": "t", "codes": ["ICD10CM//R50.9"], "split": "train"}]
    frame = read_notes_table(write(rows, tmp_path / "n.jsonl")).frame
    assert frame.schema["subject_id"] == pl.String and frame["subject_id"].to_list() == ["p-1"]


BAD_ROWS = {
    "empty_text": ({"body": "   "}, "has empty text"),
    "missing_doc_id": ({"note": ""}, "has an empty 'note'"),
    "duplicate_doc_id": ({"note": "a"}, "repeats document id 'a'"),
    "unknown_split": ({"fold": "validation"}, "has split 'validation'"),
    "missing_subject_id": ({"patient": None}, "has an empty subject id"),
}


@pytest.mark.parametrize("reason", sorted(BAD_ROWS))
def test_bad_rows_raise_or_are_counted(tmp_path, reason):
    change, message = BAD_ROWS[reason]
    rows = [*ROWS, {**ROWS[0], "note": "z", **change}]
    path = write(rows, tmp_path / "notes.jsonl")
    with pytest.raises(DataError, match=message):
        read_notes_table(path, columns=COLUMNS, split_names=SPLITS)
    table = read_notes_table(path, columns=COLUMNS, split_names=SPLITS, on_error="skip")
    assert table.skipped == {reason: 1}
    assert table.frame["doc_id"].to_list() == ["a", "b", "c", "d"]


def test_code_in_no_code_system(tmp_path):
    rows = [*ROWS[:3], {**ROWS[3], "labels": ["LOINC//1234-5", "ICD10CM//!!", "ICD10CM//R50.9"]}]
    path = write(rows, tmp_path / "notes.parquet")
    with pytest.raises(DataError, match="'LOINC//1234-5' is not in any supported code system"):
        read_notes_table(path, columns=COLUMNS, split_names=SPLITS)
    table = read_notes_table(path, columns=COLUMNS, split_names=SPLITS, on_error="skip")
    assert table.skipped == {"malformed_code": 2}
    assert table.frame["codes"].to_list()[3] == ["ICD10CM//R50.9"]


def test_unknown_but_well_formed_code_is_kept(tmp_path):
    rows = [*ROWS[:3], {**ROWS[3], "labels": ["ICD10CM//S50.10X"]}]
    table = read_notes_table(write(rows, tmp_path / "n.parquet"), columns=COLUMNS, split_names=SPLITS)
    assert table.unknown_codes == {"ICD10CM//S50.10X": 1}
    assert table.frame["codes"].to_list()[3] == ["ICD10CM//S50.10X"]


def test_missing_column_file_and_types(tmp_path):
    path = write(ROWS, tmp_path / "notes.parquet")
    no_text = write([{k: v for k, v in r.items() if k != "body"} for r in ROWS], tmp_path / "x.parquet")
    with pytest.raises(DataError, match="no column 'body' \\(the text column\\)"):
        read_notes_table(no_text, columns=COLUMNS)
    with pytest.raises(DataNotFoundError, match="does not exist"):
        read_notes_table(tmp_path / "none.parquet")
    with pytest.raises(DataError, match="suffix '.txt'"):
        (tmp_path / "n.txt").write_text("x")
        read_notes_table(tmp_path / "n.txt")
    csv_path = write(ROWS, tmp_path / "notes.csv")
    with pytest.raises(DataError, match="pass codes_sep"):
        read_notes_table(csv_path, columns=COLUMNS, split_names=SPLITS)
    with pytest.raises(DataError, match="codes_sep expects a string column"):
        read_notes_table(path, columns=COLUMNS, codes_sep=";", split_names=SPLITS)
    with pytest.raises(ValueError, match="expected keys among"):
        read_notes_table(path, columns={"body": "text"})
    with pytest.raises(ValueError, match="split_names maps to"):
        read_notes_table(path, columns=COLUMNS, split_names={"dev": "validation"})


def test_all_rows_skipped_is_an_error(tmp_path):
    rows = [{**r, "body": ""} for r in ROWS]
    with pytest.raises(DataError, match="no documents left"):
        read_notes_table(write(rows, tmp_path / "n.jsonl"), columns=COLUMNS, split_names=SPLITS, on_error="skip")
