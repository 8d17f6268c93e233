"""Classify and normalise the prefixed codes attached to notes.

Three outcomes for a code such as ``ICD10CM//n44.8``:

- ``known``: well formed and present in the code system's release we ship (simple_icd_10_cm for
  ICD-10-CM, CMS descriptions for ICD-9-CM);
- ``unknown``: well formed but absent from that release (CodiEsp has ~100 such ICD-10-CM codes,
  mostly placeholder-``x`` codes without their 7th character). These are *kept* and counted in the
  reader's report: they are real gold labels, and the release we check against is not the one the
  annotators used;
- ``malformed``: not shaped like any supported code system (or an unsupported prefix): "a code
  not in any code system", handled by the reader's ``on_error`` policy.

ICD-10-PCS and ICD-9 procedure codes are checked by shape only: no offline table of them ships
with the project's dependencies. ICD-10-PCS accepts full 7-character codes and their 3-6 character
leading parts (CodiEsp's partial procedure codes).
"""

from __future__ import annotations

import re
from typing import Literal

from clincode.codes import icd9_description, is_known_icd10cm, split_code
from clincode.codes.icd10 import dotted
from clincode.data.notes._skips import SkipCounter

CodeStatus = Literal["known", "unknown", "malformed"]

ICD10PCS = "ICD10PCS"
ICD9PCS = "ICD9PROC"  # same prefix as the EHR readers (data/sources)
SUPPORTED_VOCABS: tuple[str, ...] = ("ICD10CM", ICD10PCS, "ICD9CM", ICD9PCS)

_ICD10CM_BODY = re.compile(r"^[A-Z][0-9A-Z][0-9A-Z]([0-9A-Z]{1,4})?$")
# ICD-10-PCS: 7 characters, digits and letters except I and O (they look like 1 and 0). CodiEsp
# also uses the leading 4 characters when the full code cannot be determined (1,723 of its 3,246
# P rows, e.g. ``bw20``), so a leading part of 3-6 characters is accepted as well.
_ICD10PCS_BODY = re.compile(r"^[0-9A-HJ-NP-Z]{3,7}$")
_ICD9CM_BODY = re.compile(r"^(\d{3,5}|V\d{2,4}|E\d{3,4})$")
# ICD-9-CM volume 3 procedures: 2 digits, then up to 2 more (dot after the second, as in CAML).
_ICD9PCS_BODY = re.compile(r"^\d{2,4}$")


def normalize_code(code: str) -> tuple[str, CodeStatus]:
    """Canonical form and status of a prefixed code.

    ICD-10-CM and ICD-9-CM bodies are upper-cased and dotted after the 3rd character (4th for
    ICD-9 E-codes); ICD-9 procedures after the 2nd; ICD-10-PCS has no dot. A malformed code is
    returned stripped but otherwise unchanged.
    """
    vocab, body = split_code(code.strip())
    flat = body.replace(".", "").strip().upper()
    if vocab == "ICD10CM" and _ICD10CM_BODY.match(flat):
        canon = f"ICD10CM//{dotted(flat)}"
        return canon, ("known" if is_known_icd10cm(canon) else "unknown")
    if vocab == ICD10PCS and _ICD10PCS_BODY.match(flat):
        return f"{ICD10PCS}//{flat}", "known"
    if vocab == "ICD9CM" and _ICD9CM_BODY.match(flat):
        cut = 4 if flat.startswith("E") else 3
        canon = f"ICD9CM//{flat[:cut]}.{flat[cut:]}" if len(flat) > cut else f"ICD9CM//{flat}"
        return canon, ("known" if icd9_description(canon) is not None else "unknown")
    if vocab == ICD9PCS and _ICD9PCS_BODY.match(flat):
        canon = f"{ICD9PCS}//{flat[:2]}.{flat[2:]}" if len(flat) > 2 else f"{ICD9PCS}//{flat}"
        return canon, "known"
    return code.strip(), "malformed"


def malformed_message(code: str, where: str) -> str:
    """One sentence naming the code, where it was found, and what was expected."""
    return (
        f"{where}: code {code!r} is not in any supported code system; expected a prefixed code "
        f"({', '.join(SUPPORTED_VOCABS)}) such as 'ICD10CM//E11.9' or 'ICD10PCS//0DTJ4ZZ'"
    )


def clean_codes(raw: list[str], where: str, skips: SkipCounter, unknown: list[str]) -> list[str]:
    """Normalised, de-duplicated codes of one document, in source order.

    Malformed codes go through the ``on_error`` policy (raise, or drop the code and count it as
    ``malformed_code``); unknown-but-well-formed codes are kept and appended to ``unknown``.
    """
    out: list[str] = []
    seen: set[str] = set()
    for code in raw:
        canon, status = normalize_code(code)
        if status == "malformed":
            skips.problem("malformed_code", malformed_message(code, where))
            continue
        if canon in seen:
            continue  # the same code listed twice for a document is one label, not a lost one
        seen.add(canon)
        if status == "unknown":
            unknown.append(canon)
        out.append(canon)
    return out
