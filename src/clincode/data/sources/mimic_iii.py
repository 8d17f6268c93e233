"""MIMIC-III v1.4 (upper-case CSV layout) -> :class:`HospTables`.

Files in ``PATH`` (``.csv.gz`` or ``.csv``): PATIENTS (SUBJECT_ID, GENDER, DOB, DOD), ADMISSIONS
(SUBJECT_ID, HADM_ID, DISCHTIME), DIAGNOSES_ICD and PROCEDURES_ICD (SUBJECT_ID, HADM_ID,
ICD9_CODE); optional D_ICD_DIAGNOSES / D_ICD_PROCEDURES (ICD9_CODE, LONG_TITLE). Every code is
ICD-9 (diagnoses ICD-9-CM, procedures ICD-9-CM volume 3). Birth is DOB as published (patients
older than 89 have DOB shifted ~300 years back by the de-identification; kept as is).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from clincode.data.errors import DataError
from clincode.data.sources.hosp import EMPTY_DICTIONARY, HospTables
from clincode.data.sources.icd_format import CODE_SYSTEMS, dotted_code, normalise_body
from clincode.data.sources.tables import find_table, read_table

REQUIRED_FILES: tuple[str, ...] = ("PATIENTS", "ADMISSIONS", "DIAGNOSES_ICD", "PROCEDURES_ICD")
OPTIONAL_FILES: tuple[str, ...] = ("D_ICD_DIAGNOSES", "D_ICD_PROCEDURES")


def read_mimic_iii(path: Path) -> HospTables:
    """Read and type-check the MIMIC-III tables under ``path`` (see module docstring)."""
    pat = read_table(find_table(path, ["PATIENTS"]), {"SUBJECT_ID": "int", "GENDER": "str", "DOB": "datetime", "DOD": "datetime"})
    patients = pat.select(
        pl.col("SUBJECT_ID").alias("subject_id"),
        pl.col("GENDER").alias("sex"),
        pl.col("DOB").alias("birth"),
        pl.col("DOD").alias("death"),
    )
    if patients["birth"].null_count():
        raise DataError(f"{find_table(path, ['PATIENTS'])} column 'DOB' has empty value(s); every patient needs a birth date.")
    adm = read_table(find_table(path, ["ADMISSIONS"]), {"SUBJECT_ID": "int", "HADM_ID": "int", "DISCHTIME": "datetime"})
    admissions = adm.select(
        pl.col("SUBJECT_ID").alias("subject_id"), pl.col("HADM_ID").alias("hadm_id"), pl.col("DISCHTIME").alias("disch")
    )
    frames = []
    for kind, name in (("diagnosis", "DIAGNOSES_ICD"), ("procedure", "PROCEDURES_ICD")):
        table = read_table(find_table(path, [name]), {"SUBJECT_ID": "int", "HADM_ID": "int", "ICD9_CODE": "str"})
        frames.append(
            table.select(
                pl.col("SUBJECT_ID").alias("subject_id"),
                pl.col("HADM_ID").alias("hadm_id"),
                pl.lit(kind).alias("kind"),
                pl.lit(9, pl.Int64).alias("version"),
                pl.col("ICD9_CODE").alias("raw"),
            )
        )
    return HospTables(
        patients=patients, admissions=admissions, codes=pl.concat(frames, how="vertical"), dictionary=_dictionary(path)
    )


def _dictionary(root: Path) -> pl.DataFrame:
    frames = [EMPTY_DICTIONARY]
    for kind, name in (("diagnosis", "D_ICD_DIAGNOSES"), ("procedure", "D_ICD_PROCEDURES")):
        path = find_table(root, [name], required=False)
        if path is None:
            continue
        table = read_table(path, {"ICD9_CODE": "str", "LONG_TITLE": "str"})
        table = table.with_columns(normalise_body(pl.col("ICD9_CODE")).alias("body"))
        table = table.filter(pl.col("body").str.contains(CODE_SYSTEMS[(kind, 9)][1]))
        frames.append(table.select(dotted_code(pl.col("body"), kind, 9).alias("code"), pl.col("LONG_TITLE").alias("description")))
    return pl.concat(frames, how="vertical").unique("code", keep="first")
