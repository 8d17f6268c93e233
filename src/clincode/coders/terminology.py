"""ICD-10-CM description phrases as dictionary keys (terminology-only mode; English).

For each code: its official description and inclusion terms (simple_icd_10_cm), plus shortened
variants that read more like clinical text: the part before the first comma, and the phrase
without ``NOS``, ``unspecified``, bracketed notes or parenthesised words (``Essential (primary)
hypertension`` -> ``Essential hypertension``). A code unknown to the release (CodiEsp's
placeholder codes such as ``X58.XXX``) borrows the phrases of its nearest known ancestor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import simple_icd_10_cm as sicd

_BRACKETS = re.compile(r"\[[^\]]*\]")
_PARENS = re.compile(r"\([^)]*\)")
_FILLERS = re.compile(r"\b(NOS|unspecified|other|and unspecified|not elsewhere classified)\b", re.IGNORECASE)


def _known_ancestor(body: str) -> str | None:
    flat = body.replace(".", "").upper()
    while len(flat) >= 3:
        dotted = flat if len(flat) == 3 else f"{flat[:3]}.{flat[3:]}"
        if sicd.is_valid_item(dotted):
            return dotted
        flat = flat.rstrip("X") if flat.endswith("X") else flat[:-1]
    return None


def _variants(phrase: str) -> list[str]:
    out = [phrase]
    cleaned = " ".join(_FILLERS.sub(" ", _PARENS.sub(" ", _BRACKETS.sub(" ", phrase))).replace(" ,", ",").split())
    out.append(cleaned.strip(" ,"))
    out.append(cleaned.split(",")[0].strip())
    return [v for v in dict.fromkeys(out) if v]


def icd10cm_descriptions(codes: Iterable[str]) -> dict[str, list[str]]:
    """Code -> description phrases for the ``ICD10CM//`` codes among ``codes`` (others are left out)."""
    out: dict[str, list[str]] = {}
    for code in codes:
        vocab, _, body = code.partition("//")
        if vocab != "ICD10CM" or not body:
            continue
        item = _known_ancestor(body)
        if item is None:
            continue
        phrases = [str(sicd.get_description(item))]
        try:
            phrases += [str(t) for t in sicd.get_inclusion_term(item)]
        except ValueError:
            pass
        out[code] = list(dict.fromkeys(v for p in phrases for v in _variants(p)))
    return out
