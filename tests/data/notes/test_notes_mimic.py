"""MIMIC-III / MIMIC-IV-Note notes readers against tiny fixtures in the released column layouts."""

from collections import defaultdict

import polars as pl
import pytest

from clincode.data.errors import DataError, DataNotFoundError
from clincode.data.notes import read_notes_table
from clincode.data.notes.mimic import read_mimic_iii_notes, read_mimic_iv_notes
from helpers.mimic_notes import (
    DIAGNOSES_ICD,
    DS,
    HOSP_DIAGNOSES,
    HOSP_PROCEDURES,
    III_DIAGNOSES,
    III_EXPECTED_CODES,
    III_NOTES,
    IV_DIAGNOSES,
    IV_EXPECTED_CODES,
    IV_NOTES,
    PROCEDURES_ICD,
    write_mimic_iii,
    write_mimic_iv,
)


def _codes(table) -> dict[str, list[str]]:
    return {row["doc_id"]: row["codes"] for row in table.frame.iter_rows(named=True)}


# ----------------------------------------------------------------------------- MIMIC-III


@pytest.mark.parametrize("gz", [False, True])
def test_mimic_iii_codes_dotted_like_caml_and_documents(tmp_path, gz):
    table = read_mimic_iii_notes(write_mimic_iii(tmp_path / "iii", gz=gz))
    assert _codes(table) == III_EXPECTED_CODES  # hand-written dotted codes, SEQ_NUM order, D before P
    frame = table.frame
    assert frame.columns == ["doc_id", "subject_id", "text", "codes", "split"]
    assert frame["subject_id"].dtype == pl.Int64
    assert dict(zip(frame["doc_id"], frame["subject_id"], strict=True)) == {
        "101": 1, "102": 1, "103": 2, "104": 3, "105": 4, "106": 5, "108": 7,
    }  # fmt: skip
    # 107 has a summary but no code; 109 has codes but no summary: both counted, neither silent.
    assert table.skipped == {"admissions_without_notes": 1, "documents_without_codes": 1}
    # ICD9CM//401 is a valid category but not a billable code of the CMS release: kept and reported.
    assert table.unknown_codes == {"ICD9CM//401": 1}


def test_mimic_iii_concatenates_report_then_addendum_and_ignores_other_categories(tmp_path):
    table = read_mimic_iii_notes(write_mimic_iii(tmp_path / "iii"))
    text = table.frame.filter(pl.col("doc_id") == "101")["text"].item()
    report = III_NOTES[1][-1]
    addendum = III_NOTES[0][-1]
    assert text == f"{report}\n\n{addendum}"  # report first although the addendum is first in the file
    assert "nursing text" not in " ".join(table.frame["text"].to_list())


def test_mimic_iii_procedures_only(tmp_path):
    table = read_mimic_iii_notes(write_mimic_iii(tmp_path / "iii"), code_types=("P",))
    assert _codes(table) == {"101": ["ICD9PROC//39.61"], "106": ["ICD9PROC//37.22"], "108": ["ICD9PROC//96.6", "ICD9PROC//96.04"]}
    assert table.skipped["documents_without_codes"] == 5


@pytest.mark.parametrize(
    "table, column",
    [("NOTEEVENTS", c) for c in ("ROW_ID", "SUBJECT_ID", "HADM_ID", "CHARTDATE", "CATEGORY", "DESCRIPTION", "TEXT")]
    + [("DIAGNOSES_ICD", c) for c in DIAGNOSES_ICD[1:]]
    + [("PROCEDURES_ICD", c) for c in PROCEDURES_ICD[1:]],
)
def test_mimic_iii_missing_column_names_file_and_column(tmp_path, table, column):
    root = write_mimic_iii(tmp_path / "iii", drop={table: column})
    with pytest.raises(DataError, match=rf"{table}\.csv lacks column\(s\) \['{column}'\]"):
        read_mimic_iii_notes(root)


@pytest.mark.parametrize("name", ["NOTEEVENTS", "DIAGNOSES_ICD", "PROCEDURES_ICD"])
def test_mimic_iii_missing_file(tmp_path, name):
    root = write_mimic_iii(tmp_path / "iii")
    (root / f"{name}.csv").unlink()
    with pytest.raises(DataNotFoundError, match=name):
        read_mimic_iii_notes(root)


def test_mimic_iii_empty_text_raises_or_is_counted(tmp_path):
    notes = [*III_NOTES, (20, 8, 109, "2158-01-01", DS, "Report", "   \n ")]
    root = write_mimic_iii(tmp_path / "iii", notes=notes)
    with pytest.raises(DataError, match="admission 109 has an empty discharge summary"):
        read_mimic_iii_notes(root)
    table = read_mimic_iii_notes(root, on_error="skip")
    assert table.skipped["empty_text"] == 1
    assert "109" not in table.frame["doc_id"].to_list()
    assert "admissions_without_notes" not in table.skipped  # 109 has a (blank) summary now


def test_mimic_iii_malformed_code_raises_or_is_counted(tmp_path):
    diagnoses = [*III_DIAGNOSES, (4, 105, 2, "XYZ12")]
    root = write_mimic_iii(tmp_path / "iii", diagnoses=diagnoses)
    with pytest.raises(DataError, match="XYZ12"):
        read_mimic_iii_notes(root)
    table = read_mimic_iii_notes(root, on_error="skip")
    assert table.skipped["malformed_code"] == 1
    assert _codes(table)["105"] == ["ICD9CM//401"]  # the document keeps its valid code


def test_mimic_iii_bad_ids_raise_or_are_counted(tmp_path):
    notes = [*III_NOTES, (21, 9, "", "2158-01-01", DS, "Report", "summary without admission id")]
    diagnoses = [*III_DIAGNOSES, (9, "12x", 1, "4019")]
    root = write_mimic_iii(tmp_path / "iii", notes=notes, diagnoses=diagnoses)
    with pytest.raises(DataError, match="NOTEEVENTS.csv data row .* non-integer"):
        read_mimic_iii_notes(root)
    table = read_mimic_iii_notes(root, on_error="skip")
    assert table.skipped["bad_id"] == 2
    assert _codes(table) == III_EXPECTED_CODES


def test_mimic_iii_empty_code_rows_are_counted_not_errors(tmp_path):
    root = write_mimic_iii(tmp_path / "iii", diagnoses=[*III_DIAGNOSES, (4, 105, 2, "")])
    table = read_mimic_iii_notes(root)  # MIMIC-III ships such rows: counted even under "raise"
    assert table.skipped["empty_code_rows"] == 1
    assert _codes(table) == III_EXPECTED_CODES


def test_bad_arguments(tmp_path):
    root = write_mimic_iii(tmp_path / "iii")
    with pytest.raises(ValueError, match="code_types"):
        read_mimic_iii_notes(root, code_types=("X",))
    with pytest.raises(ValueError, match="on_error"):
        read_mimic_iii_notes(root, on_error="ignore")
    with pytest.raises(DataNotFoundError, match="not a directory"):
        read_mimic_iii_notes(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="icd_version"):
        read_mimic_iv_notes(write_mimic_iv(tmp_path / "iv"), icd_version=8)


# ----------------------------------------------------------------------------- splits


def _write_caml(directory, lists: dict[str, list[int]], variant: str = "full"):
    directory.mkdir(parents=True, exist_ok=True)
    for split, ids in lists.items():
        (directory / f"{split}_{variant}_hadm_ids.csv").write_text("".join(f"{i}\n" for i in ids))
    return directory


def test_caml_split_lists(tmp_path):
    root = write_mimic_iii(tmp_path / "iii")
    caml = _write_caml(tmp_path / "caml", {"train": [101, 102, 104], "dev": [103], "test": [105, 106]})
    table = read_mimic_iii_notes(root, split_ids=caml)
    got = dict(zip(table.frame["doc_id"], table.frame["split"], strict=True))
    assert got == {"101": "train", "102": "train", "104": "train", "103": "tuning", "105": "held_out", "106": "held_out"}
    assert table.skipped["documents_not_in_split_lists"] == 1  # 108 is in no list (like MIMIC-III-50)
    assert table.report["documents"] == {"train": 3, "tuning": 1, "held_out": 2}


def test_caml_unknown_ids_raise_or_are_counted(tmp_path):
    root = write_mimic_iii(tmp_path / "iii")
    caml = _write_caml(tmp_path / "caml", {"train": [101, 102, 104, 999], "dev": [103, 998], "test": [105, 106, 108]})
    with pytest.raises(DataError, match=r"admission 998, which is not among the documents read \(2 such ids"):
        read_mimic_iii_notes(root, split_ids=caml)
    table = read_mimic_iii_notes(root, split_ids=caml, on_error="skip")
    assert table.skipped["unknown_split_id"] == 2
    assert table.frame.height == 7


def test_caml_variants_and_bad_lists(tmp_path):
    root = write_mimic_iii(tmp_path / "iii")
    caml = _write_caml(tmp_path / "caml", {"train": [101, 102, 104], "dev": [103], "test": [105]}, variant="full")
    _write_caml(caml, {"train": [101], "dev": [103], "test": [105]}, variant="50")
    with pytest.raises(DataError, match="several train lists"):
        read_mimic_iii_notes(root, split_ids=caml)
    assert read_mimic_iii_notes(root, split_ids=caml, split_variant="50").frame["doc_id"].to_list() == ["101", "103", "105"]
    (caml / "test_50_hadm_ids.csv").write_text("105\n101\n")
    with pytest.raises(DataError, match="admission 101 is listed in both 'train' and 'held_out'"):
        read_mimic_iii_notes(root, split_ids=caml, split_variant="50")
    (caml / "test_50_hadm_ids.csv").write_text("105\nabc\n")
    with pytest.raises(DataError, match="line 2 is 'abc'"):
        read_mimic_iii_notes(root, split_ids=caml, split_variant="50")
    with pytest.raises(DataNotFoundError, match="train_10_hadm_ids.csv"):
        read_mimic_iii_notes(root, split_ids=caml, split_variant="10")


@pytest.mark.parametrize("fmt", ["feather", "csv", "parquet"])
def test_edin_split_table(tmp_path, fmt):
    root = write_mimic_iii(tmp_path / "iii")
    id_column = "_id" if fmt != "csv" else "hadm_id"
    splits = pl.DataFrame(
        {id_column: [101, 102, 103, 104, 105, 106, 108], "split": ["train", "train", "val", "train", "test", "test", "val"]}
    )
    path = tmp_path / f"splits.{fmt}"
    {"feather": splits.write_ipc, "csv": splits.write_csv, "parquet": splits.write_parquet}[fmt](path)
    table = read_mimic_iii_notes(root, split_ids=path)
    got = dict(zip(table.frame["doc_id"], table.frame["split"], strict=True))
    assert got == {"101": "train", "102": "train", "103": "tuning", "104": "train", "105": "held_out", "106": "held_out", "108": "tuning"}
    pl.DataFrame({"_id": [101], "fold": ["train"]}).write_ipc(tmp_path / "bad.feather")
    with pytest.raises(DataError, match="expected an id column"):
        read_mimic_iii_notes(root, split_ids=tmp_path / "bad.feather")
    pl.DataFrame({"_id": [101], "split": ["validate"]}).write_ipc(tmp_path / "bad2.feather")
    with pytest.raises(DataError, match="split 'validate'"):
        read_mimic_iii_notes(root, split_ids=tmp_path / "bad2.feather")


def test_patient_split_is_disjoint_seeded_and_80_10_10(tmp_path):
    notes, diagnoses = [], []
    for i in range(60):  # 60 patients, 1-3 admissions each
        subject = 1000 + i
        for k in range(1 + i % 3):
            hadm = 100_000 + 10 * i + k
            notes.append((hadm, subject, hadm, "2150-01-01", DS, "Report", f"summary {hadm}"))
            diagnoses.append((subject, hadm, 1, "4280"))
    root = write_mimic_iii(tmp_path / "iii", notes=notes, diagnoses=diagnoses, procedures=[])
    a = read_mimic_iii_notes(root, seed=3).frame
    assert a.equals(read_mimic_iii_notes(root, seed=3).frame)
    assert not a["split"].equals(read_mimic_iii_notes(root, seed=4).frame["split"])
    per_subject = defaultdict(set)
    for subject, split in zip(a["subject_id"], a["split"], strict=True):
        per_subject[subject].add(split)
    assert all(len(s) == 1 for s in per_subject.values())  # no patient in two splits
    counts = defaultdict(int)
    for s in per_subject.values():
        counts[next(iter(s))] += 1
    assert dict(counts) == {"train": 48, "tuning": 6, "held_out": 6}


# ----------------------------------------------------------------------------- MIMIC-IV-Note


def test_mimic_iv_codes_versions_and_note_order(tmp_path):
    root = write_mimic_iv(tmp_path / "iv")
    table = read_mimic_iv_notes(root)  # note/ and hosp/ under one root
    assert _codes(table) == IV_EXPECTED_CODES
    text = table.frame.filter(pl.col("doc_id") == "201")["text"].item()
    assert text.startswith("First part") and text.endswith("Second part of the summary.")  # note_seq order
    assert table.skipped == {}
    # separate roots, as downloaded from PhysioNet (mimic-iv-note/ and mimiciv/)
    again = read_mimic_iv_notes(root / "note", root / "hosp")
    assert again.frame.equals(table.frame)


def test_mimic_iv_one_icd_version(tmp_path):
    root = write_mimic_iv(tmp_path / "iv")
    icd10 = read_mimic_iv_notes(root, icd_version=10)
    assert _codes(icd10) == {
        "201": ["ICD10CM//I50.23", "ICD10CM//E11.9", "ICD10PCS//02HV33Z"],
        "203": ["ICD10CM//E11.9", "ICD10PCS//0DTJ4ZZ"],
        "204": ["ICD10CM//J18.9"],
        "205": ["ICD10CM//S72.001A"],
    }
    assert icd10.skipped == {"codes_of_other_icd_version": 3, "documents_without_codes": 1}
    with pytest.raises(DataError, match="2 subject"):  # two patients left: no 3-way patient split
        read_mimic_iv_notes(root, icd_version=9)
    (tmp_path / "splits.csv").write_text("_id,split\n202,train\n205,test\n")
    icd9 = read_mimic_iv_notes(root, icd_version=9, split_ids=tmp_path / "splits.csv")
    assert _codes(icd9) == {"202": ["ICD9CM//428.0", "ICD9PROC//39.61"], "205": ["ICD9CM//E880.9"]}


@pytest.mark.parametrize(
    "table, column",
    [("discharge", c) for c in ("note_id", "subject_id", "hadm_id", "note_type", "note_seq", "text")]
    + [("diagnoses_icd", c) for c in HOSP_DIAGNOSES]
    + [("procedures_icd", c) for c in HOSP_PROCEDURES if c != "chartdate"],
)
def test_mimic_iv_missing_column_names_file_and_column(tmp_path, table, column):
    root = write_mimic_iv(tmp_path / "iv", drop={table: column})
    with pytest.raises(DataError, match=rf"{table}\.csv\.gz lacks column\(s\) \['{column}'\]"):
        read_mimic_iv_notes(root)


def test_mimic_iv_unknown_icd_version_and_empty_text(tmp_path):
    root = write_mimic_iv(tmp_path / "iv", diagnoses=[*IV_DIAGNOSES, (13, 204, 2, "J189", 11)])
    with pytest.raises(DataError, match="icd_version '11'"):
        read_mimic_iv_notes(root)
    assert read_mimic_iv_notes(root, on_error="skip").skipped == {"unknown_icd_version": 1}
    root = write_mimic_iv(tmp_path / "iv2", notes=[*IV_NOTES, ("15-DS-40", 15, 206, 40, "")], diagnoses=[*IV_DIAGNOSES, (15, 206, 1, "J189", 10)])
    with pytest.raises(DataError, match="admission 206 has an empty"):
        read_mimic_iv_notes(root)
    assert read_mimic_iv_notes(root, on_error="skip").skipped == {"empty_text": 1}


def test_round_trip_through_generic_reader(tmp_path):
    table = read_mimic_iv_notes(write_mimic_iv(tmp_path / "iv"))
    table.frame.write_parquet(tmp_path / "notes.parquet")
    again = read_notes_table(tmp_path / "notes.parquet")
    assert again.frame.equals(table.frame)
