"""Human-readable text for any prefixed code; falls back to the code itself, never raises on text."""

from __future__ import annotations

from collections.abc import Callable

from clincode.codes._prefix import CCS, ICD9CM, ICD10CM, ICD10CM_CHAPTER, split_code
from clincode.codes.ccs import ccs_description
from clincode.codes.icd9 import icd9_description
from clincode.codes.icd10 import chapter_description, icd10_description

# MEDS reserved codes and the static sex events our sources and the generator write.
STATIC_DESCRIPTIONS: dict[str, str] = {
    "MEDS_BIRTH": "Birth",
    "MEDS_DEATH": "Death",
    "GENDER//F": "Sex: female",
    "GENDER//M": "Sex: male",
}

_BY_VOCAB: dict[str, Callable[[str], str | None]] = {
    ICD10CM: icd10_description,
    ICD9CM: icd9_description,
    CCS: ccs_description,
    ICD10CM_CHAPTER: chapter_description,
}


def describe(code: str) -> str:
    """Description of a prefixed code (``ICD10CM//E11.9`` -> 'Type 2 diabetes mellitus without
    complications'); ICD10CM, ICD9CM, CCS and ICD10CM_CHAPTER are known. Unknown vocabularies,
    malformed or unlisted codes return ``code`` unchanged, so labels always have some text.
    """
    if code in STATIC_DESCRIPTIONS:
        return STATIC_DESCRIPTIONS[code]
    vocab, _ = split_code(code)
    lookup = _BY_VOCAB.get(vocab)
    if lookup is None:
        return code
    try:
        text = lookup(code)
    except ValueError:
        return code
    return text if text else code
