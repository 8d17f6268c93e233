"""Tiny MIMIC-III / MIMIC-IV-Note fixtures in the exact released column layouts.

Column lists are those of the PhysioNet releases (MIMIC-III v1.4 NOTEEVENTS / DIAGNOSES_ICD /
PROCEDURES_ICD; MIMIC-IV-Note v2.2 discharge; MIMIC-IV v2.2 hosp diagnoses_icd / procedures_icd).
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Sequence
from pathlib import Path

NOTEEVENTS = ["ROW_ID", "SUBJECT_ID", "HADM_ID", "CHARTDATE", "CHARTTIME", "STORETIME", "CATEGORY",
              "DESCRIPTION", "CGID", "ISERROR", "TEXT"]  # fmt: skip
DIAGNOSES_ICD = ["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"]
PROCEDURES_ICD = ["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"]
DISCHARGE = ["note_id", "subject_id", "hadm_id", "note_type", "note_seq", "charttime", "storetime", "text"]
HOSP_DIAGNOSES = ["subject_id", "hadm_id", "seq_num", "icd_code", "icd_version"]
HOSP_PROCEDURES = ["subject_id", "hadm_id", "seq_num", "chartdate", "icd_code", "icd_version"]

DS = "Discharge summary"

# (ROW_ID, SUBJECT_ID, HADM_ID, CHARTDATE, CATEGORY, DESCRIPTION, TEXT). Admission 101's addendum
# comes first in the file: the reader must still put the report first.
III_NOTES = [
    (11, 1, 101, "2150-01-09", DS, "Addendum", "Addendum: patient also on warfarin."),
    (10, 1, 101, "2150-01-08", DS, "Report", 'Admission Date: [**2150-1-1**]\nHistory: CHF, "dyspnea", afib.'),
    (12, 1, 101, "2150-01-05", "Nursing", "Nursing Progress Note", "nursing text not a summary"),
    (13, 1, 102, "2151-03-01", DS, "Report", "Second admission of patient one, diabetic."),
    (14, 2, 103, "2152-05-05", DS, "Report", "Fall from ladder, E-code case."),
    (15, 3, 104, "2153-07-07", DS, "Report", "Newborn, single liveborn."),
    (16, 4, 105, "2154-02-02", DS, "Report", "Hypertension follow-up."),
    (17, 5, 106, "2155-04-04", DS, "Report", "Cardiac catheterisation performed."),
    (18, 6, 107, "2156-06-06", DS, "Report", "Admission with no coded diagnosis."),
    (19, 7, 108, "2157-08-08", DS, "Report", "Seventh patient, ventilation."),
]
# (SUBJECT_ID, HADM_ID, SEQ_NUM, ICD9_CODE); 101's codes listed out of SEQ_NUM order on purpose.
III_DIAGNOSES = [
    (1, 101, 2, "42731"), (1, 101, 1, "4280"), (1, 102, 1, "25000"), (2, 103, 1, "E8809"),
    (2, 103, 2, "8208"), (3, 104, 1, "V3001"), (4, 105, 1, "401"), (5, 106, 1, "41401"),
    (7, 108, 1, "5184"), (8, 109, 1, "4019"),
]  # fmt: skip
III_PROCEDURES = [(1, 101, 1, "3961"), (5, 106, 1, "3722"), (7, 108, 1, "966"), (7, 108, 2, "9604")]

# Expected canonical codes (hand-written CAML dots: diagnoses after 3, E codes after 4, procedures after 2).
III_EXPECTED_CODES = {
    "101": ["ICD9CM//428.0", "ICD9CM//427.31", "ICD9PROC//39.61"],
    "102": ["ICD9CM//250.00"],
    "103": ["ICD9CM//E880.9", "ICD9CM//820.8"],
    "104": ["ICD9CM//V30.01"],
    "105": ["ICD9CM//401"],
    "106": ["ICD9CM//414.01", "ICD9PROC//37.22"],
    "108": ["ICD9CM//518.4", "ICD9PROC//96.6", "ICD9PROC//96.04"],
}

# MIMIC-IV-Note: (note_id, subject_id, hadm_id, note_seq, text)
IV_NOTES = [
    ("11-DS-22", 11, 201, 22, "Second part of the summary."),
    ("11-DS-21", 11, 201, 21, "First part: heart failure exacerbation."),
    ("11-DS-25", 11, 202, 25, "ICD-9 era admission."),
    ("12-DS-30", 12, 203, 30, "Type 2 diabetes, colectomy."),
    ("13-DS-31", 13, 204, 31, "Pneumonia."),
    ("14-DS-32", 14, 205, 32, "Hip fracture."),
]
# (subject_id, hadm_id, seq_num, icd_code, icd_version)
IV_DIAGNOSES = [
    (11, 201, 1, "I5023", 10), (11, 201, 2, "E119", 10), (11, 202, 1, "4280", 9), (12, 203, 1, "E119", 10),
    (13, 204, 1, "J189", 10), (14, 205, 1, "S72001A", 10), (14, 205, 2, "E8809", 9),
]  # fmt: skip
IV_PROCEDURES = [(11, 201, 1, "2180-01-01", "02HV33Z", 10), (12, 203, 1, "2181-01-01", "0DTJ4ZZ", 10), (11, 202, 1, "2170-01-01", "3961", 9)]
IV_EXPECTED_CODES = {
    "201": ["ICD10CM//I50.23", "ICD10CM//E11.9", "ICD10PCS//02HV33Z"],
    "202": ["ICD9CM//428.0", "ICD9PROC//39.61"],
    "203": ["ICD10CM//E11.9", "ICD10PCS//0DTJ4ZZ"],
    "204": ["ICD10CM//J18.9"],
    "205": ["ICD10CM//S72.001A", "ICD9CM//E880.9"],
}


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]], gz: bool = False) -> Path:
    r"""Write ``rows`` under ``header`` as MIMIC does (quoted text fields, ``\n`` line ends)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        handle = gzip.open(path, "wt", encoding="utf-8", newline="")
    else:
        handle = open(path, "w", encoding="utf-8", newline="")
    with handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _iii_note_rows(notes: Sequence[tuple]) -> list[list[object]]:
    rows = []
    for row_id, subject, hadm, date, category, description, text in notes:
        rows.append([row_id, subject, hadm, date, "", "", category, description, "", "", text])
    return rows


def write_mimic_iii(
    root: Path,
    *,
    notes: Sequence[tuple] = III_NOTES,
    diagnoses: Sequence[tuple] = III_DIAGNOSES,
    procedures: Sequence[tuple] = III_PROCEDURES,
    drop: dict[str, str] | None = None,
    gz: bool = False,
) -> Path:
    """MIMIC-III fixture under ``root``; ``drop`` = {table: column} removes one column of one table."""
    drop = drop or {}
    tables = {
        "NOTEEVENTS": (NOTEEVENTS, _iii_note_rows(notes)),
        "DIAGNOSES_ICD": (DIAGNOSES_ICD, [[i, *r] for i, r in enumerate(diagnoses, start=1)]),
        "PROCEDURES_ICD": (PROCEDURES_ICD, [[i, *r] for i, r in enumerate(procedures, start=1)]),
    }
    for name, (header, rows) in tables.items():
        if name in drop:
            j = header.index(drop[name])
            header = [h for k, h in enumerate(header) if k != j]
            rows = [[v for k, v in enumerate(r) if k != j] for r in rows]
        write_csv(root / f"{name}.csv", header, rows, gz=gz)
    return root


def write_mimic_iv(
    root: Path,
    *,
    notes: Sequence[tuple] = IV_NOTES,
    diagnoses: Sequence[tuple] = IV_DIAGNOSES,
    procedures: Sequence[tuple] = IV_PROCEDURES,
    drop: dict[str, str] | None = None,
) -> Path:
    """MIMIC-IV-Note + hosp fixture: ``root/note/discharge.csv.gz`` and ``root/hosp/*.csv.gz``."""
    drop = drop or {}
    note_rows = [[nid, s, h, "DS", seq, "2180-01-01 10:00:00", "2180-01-01 11:00:00", t] for nid, s, h, seq, t in notes]
    tables = {
        "note/discharge": (DISCHARGE, note_rows),
        "hosp/diagnoses_icd": (HOSP_DIAGNOSES, [list(r) for r in diagnoses]),
        "hosp/procedures_icd": (HOSP_PROCEDURES, [list(r) for r in procedures]),
    }
    for name, (header, rows) in tables.items():
        if name.split("/")[1] in drop:
            j = header.index(drop[name.split("/")[1]])
            header = [h for k, h in enumerate(header) if k != j]
            rows = [[v for k, v in enumerate(r) if k != j] for r in rows]
        write_csv(root / f"{name}.csv", header, rows, gz=True)
    return root
