"""MIMIC-IV ``hosp`` module (v2.x) -> :class:`HospTables`.

Files (``.csv.gz`` or ``.csv``, in ``PATH/hosp`` or ``PATH`` itself): patients, admissions,
diagnoses_icd, procedures_icd; optional d_icd_diagnoses / d_icd_procedures for descriptions.
Birth: 1 January of ``anchor_year - anchor_age`` (MIMIC-IV publishes only the age in the shifted
anchor year, so this is the earliest birth date consistent with it, at most a year early).
ICD-9 and ICD-10 rows are kept apart by ``icd_version`` (vocabulary prefix).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from clincode.data.errors import DataError
from clincode.data.sources.hosp import EMPTY_DICTIONARY, HospTables
from clincode.data.sources.icd_format import CODE_SYSTEMS, dotted_code, normalise_body
from clincode.data.sources.tables import find_table, read_table

REQUIRED_FILES: tuple[str, ...] = ("patients", "admissions", "diagnoses_icd", "procedures_icd")
OPTIONAL_FILES: tuple[str, ...] = ("d_icd_diagnoses", "d_icd_procedures")


def hosp_dir(path: Path) -> Path:
    """``path/hosp`` when it exists, else ``path`` (either layout is accepted)."""
    return path / "hosp" if (path / "hosp").is_dir() else path


def read_mimic_iv(path: Path) -> HospTables:
    """Read and type-check the MIMIC-IV hosp tables under ``path`` (see module docstring)."""
    root = hosp_dir(path)
    pat_path = find_table(root, ["patients"])
    pat = read_table(pat_path, {"subject_id": "int", "gender": "str", "anchor_age": "int", "anchor_year": "int", "dod": "datetime"})
    birth_year = pat["anchor_year"] - pat["anchor_age"]
    if (birth_year < 1).any():
        raise DataError(f"{pat_path} has anchor_age > anchor_year for some patient; expected a positive birth year.")
    patients = pat.select(
        "subject_id",
        pl.col("gender").alias("sex"),
        pl.datetime(pl.col("anchor_year") - pl.col("anchor_age"), 1, 1, time_unit="us").alias("birth"),
        pl.col("dod").alias("death"),
    )
    admissions = read_table(
        find_table(root, ["admissions"]), {"subject_id": "int", "hadm_id": "int", "dischtime": "datetime"}
    ).rename({"dischtime": "disch"})
    code_cols = {"subject_id": "int", "hadm_id": "int", "icd_code": "str", "icd_version": "int"}
    frames = []
    for kind, name in (("diagnosis", "diagnoses_icd"), ("procedure", "procedures_icd")):
        table = read_table(find_table(root, [name]), code_cols)
        frames.append(
            table.select(
                "subject_id", "hadm_id", pl.lit(kind).alias("kind"), pl.col("icd_version").alias("version"), pl.col("icd_code").alias("raw")
            )
        )
    return HospTables(
        patients=patients, admissions=admissions, codes=pl.concat(frames, how="vertical"), dictionary=_dictionary(root)
    )


def _dictionary(root: Path) -> pl.DataFrame:
    """Prefixed code -> long_title from d_icd_diagnoses / d_icd_procedures, when present."""
    frames = [EMPTY_DICTIONARY]
    for kind, name in (("diagnosis", "d_icd_diagnoses"), ("procedure", "d_icd_procedures")):
        path = find_table(root, [name], required=False)
        if path is None:
            continue
        table = read_table(path, {"icd_code": "str", "icd_version": "int", "long_title": "str"})
        table = table.with_columns(normalise_body(pl.col("icd_code")).alias("body"))
        for version in (9, 10):
            part = table.filter(pl.col("icd_version") == version)
            part = part.filter(pl.col("body").str.contains(CODE_SYSTEMS[(kind, version)][1]))
            frames.append(part.select(dotted_code(pl.col("body"), kind, version).alias("code"), pl.col("long_title").alias("description")))
    return pl.concat(frames, how="vertical").unique("code", keep="first")
