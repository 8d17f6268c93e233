"""ICD-10-CM descriptions and hierarchy (simple_icd_10_cm's release, read through its cached table).

simple_icd_10_cm parses ~100k codes at import; :mod:`clincode.codes._icd10cm_table` keeps its
answers in a table built once per package version, so these functions do not import it.

Codes are prefixed (``ICD10CM//E11.9``); the body may be dotted or not. Groupings are returned as
prefixed codes too, so they can serve directly as labels and go through :func:`describe`:
``icd10_category`` -> ``ICD10CM//E11``, ``icd10_chapter`` -> ``ICD10CM_CHAPTER//04``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from clincode.codes._icd10cm_table import Icd10cmTable, icd10cm_table
from clincode.codes._prefix import ICD10CM, ICD10CM_CHAPTER, SEPARATOR, require_vocab, undotted

# The 22 ICD-10-CM chapters as (first category, last category), from the tabular list. Kept here
# so that the chapter of a code needs no table of simple_icd_10_cm's release, and works for codes
# from other releases; a test checks it against simple_icd_10_cm's chapter nodes.
CHAPTER_RANGES: tuple[tuple[str, str], ...] = (
    ("A00", "B99"), ("C00", "D49"), ("D50", "D89"), ("E00", "E89"), ("F01", "F99"),
    ("G00", "G99"), ("H00", "H59"), ("H60", "H95"), ("I00", "I99"), ("J00", "J99"),
    ("K00", "K95"), ("L00", "L99"), ("M00", "M99"), ("N00", "N99"), ("O00", "O9A"),
    ("P00", "P96"), ("Q00", "QA0"), ("R00", "R99"), ("S00", "T88"), ("V00", "Y99"),
    ("Z00", "Z99"), ("U00", "U85"),
)  # fmt: skip

_BODY = re.compile(r"^[A-Z][0-9A-Z][0-9A-Z]([0-9A-Z]{1,4})?$")


def _table() -> Icd10cmTable:
    """simple_icd_10_cm's release as its cached table."""
    return icd10cm_table()


def _body(code: str) -> str:
    """Undotted, upper-case body of an ``ICD10CM//`` code; ValueError if it cannot be ICD-10-CM."""
    body = undotted(require_vocab(code, ICD10CM))
    if not _BODY.match(body):
        raise ValueError(
            f"code {code!r} is not shaped like an ICD-10-CM code (a letter, then 2-6 letters or digits, "
            "e.g. 'ICD10CM//E11.9')."
        )
    return body


def dotted(body: str) -> str:
    """``"E1165"`` -> ``"E11.65"``; 3-character categories have no dot."""
    body = undotted(body)
    return body if len(body) <= 3 else f"{body[:3]}.{body[3:]}"


def is_known_icd10cm(code: str) -> bool:
    """True if ``code`` is an ``ICD10CM//`` code present in simple_icd_10_cm's release."""
    try:
        body = _body(code)
    except ValueError:
        return False
    return bool(_table().is_valid_item(dotted(body)))


def is_billable_icd10cm(code: str) -> bool:
    """True if ``code`` is a billable (leaf) ICD-10-CM code in simple_icd_10_cm's release."""
    return is_known_icd10cm(code) and bool(_table().is_leaf(dotted(_body(code))))


@lru_cache(maxsize=1)
def billable_icd10cm_bodies() -> tuple[str, ...]:
    """Dotted bodies of every billable ICD-10-CM code (~75k), in tabular order."""
    table = _table()
    return tuple(c for c in table.get_all_codes(True) if table.is_leaf(c) and not table.is_chapter_or_block(c))


def icd10_description(code: str) -> str | None:
    """Official description of an ``ICD10CM//`` code, or None if the release does not know it."""
    body = _body(code)
    table = _table()
    key = dotted(body)
    return str(table.get_description(key)) if table.is_valid_item(key) else None


def icd10_category(code: str) -> str:
    """3-character category: ``ICD10CM//E11.9`` -> ``ICD10CM//E11`` (string rule, any release)."""
    return f"{ICD10CM}{SEPARATOR}{_body(code)[:3]}"


def icd10_parent(code: str) -> str | None:
    """Immediate parent code: ``E11.65`` -> ``E11.6``, ``E11.9`` -> ``E11``; None for a category.

    Chapters and blocks (``E08-E13``) are not codes, so a 3-character category has no parent.
    Codes unknown to the release get the string rule (drop the last character).
    """
    body = _body(code)
    if len(body) <= 3:
        return None
    table = _table()
    key = dotted(body)
    if table.is_valid_item(key):
        parent = table.get_parent(key)
        if not parent or table.is_chapter_or_block(parent):
            return None
        return f"{ICD10CM}{SEPARATOR}{parent}"
    return f"{ICD10CM}{SEPARATOR}{dotted(body[:-1])}"


def icd10_chapter(code: str) -> str:
    """Chapter as ``ICD10CM_CHAPTER//NN`` (``ICD10CM//E11.9`` -> ``ICD10CM_CHAPTER//04``).

    A string rule over :data:`CHAPTER_RANGES`, so it also works for codes of other releases.
    Raises ValueError if the category lies in no chapter range (e.g. ``ICD10CM//U99``).
    """
    category = _body(code)[:3]
    for number, (first, last) in enumerate(CHAPTER_RANGES, start=1):
        if first <= category <= last:
            return f"{ICD10CM_CHAPTER}{SEPARATOR}{number:02d}"
    raise ValueError(f"code {code!r} has category {category!r}, which lies in no ICD-10-CM chapter range.")


def chapter_number(chapter: str) -> int:
    """``ICD10CM_CHAPTER//04`` -> 4; ValueError unless 1..22."""
    body = require_vocab(chapter, ICD10CM_CHAPTER)
    if not body.isdigit() or not 1 <= int(body) <= len(CHAPTER_RANGES):
        raise ValueError(f"chapter {chapter!r} is not ICD10CM_CHAPTER//01 .. //{len(CHAPTER_RANGES):02d}.")
    return int(body)


def chapter_description(chapter: str) -> str:
    """Title of an ``ICD10CM_CHAPTER//NN`` chapter, e.g. 'Endocrine, nutritional and metabolic ...'."""
    return str(_table().get_description(str(chapter_number(chapter))))
