"""Sex- and pregnancy-specific ICD-10-CM codes, by tabular-list blocks.

[ours] The authoritative sex edits are in CMS's Medicare Code Editor, which is not available
offline; these rules cover the blocks whose titles name one sex's organs or pregnancy (male
genital organs N40-N53, C60-C63, ...; female pelvic organs N70-N98, C51-C58, pregnancy O00-O9A,
...). Matching is by prefix of the undotted code. Used to keep the synthetic cohort plausible
(no prostate codes for women) and testable.
"""

from __future__ import annotations

from typing import Literal

from clincode.codes._prefix import ICD10CM, split_code, undotted

Sex = Literal["F", "M"]


def _expand(first: str, last: str) -> tuple[str, ...]:
    """3-character categories ``first..last`` within one letter (``"N40", "N53"`` -> N40 .. N53)."""
    letter = first[0]
    return tuple(f"{letter}{n:02d}" for n in range(int(first[1:]), int(last[1:]) + 1))


_PREGNANCY: tuple[str, ...] = (
    "O",  # chapter 15, pregnancy, childbirth and the puerperium
    "Z32", "Z33", "Z34", "Z36", "Z37", "Z39", "Z3A",  # pregnancy tests, supervision, outcome of delivery
)  # fmt: skip

_FEMALE: tuple[str, ...] = _PREGNANCY + (
    *_expand("C51", "C58"),  # malignant neoplasms of female genital organs
    "D06", "D070", "D071", "D072", "D073",  # carcinoma in situ of cervix / female genital organs
    *_expand("D25", "D28"), "D39",  # benign and uncertain neoplasms of female genital organs
    *_expand("N70", "N98"),  # diseases of female pelvic organs and genital tract
    *_expand("Q50", "Q52"),  # congenital malformations of female genital organs
    "N992", "N993", "N9983",  # postprocedural vaginal adhesions / vault prolapse, residual ovary
    "R87",  # abnormal findings in specimens from female genital organs
    "Z014", "Z124", "Z8540", "Z8541", "Z8542", "Z8543", "Z8544",
)  # fmt: skip

_MALE: tuple[str, ...] = (
    *_expand("C60", "C63"),  # malignant neoplasms of male genital organs
    "D074", "D075", "D076", "D29", "D40",
    *_expand("N40", "N53"),  # diseases of male genital organs
    *_expand("Q53", "Q55"),  # congenital malformations of male genital organs
    "R86", "R972",  # abnormal findings male genital organs; elevated PSA
    "Z125", "Z8545", "Z8546", "Z8547", "Z8548", "Z8549",
)  # fmt: skip


def _body_or_none(code: str) -> str | None:
    vocab, body = split_code(code)
    return undotted(body) if vocab == ICD10CM else None


def sex_restriction(code: str) -> Sex | None:
    """``"F"`` or ``"M"`` if an ``ICD10CM//`` code applies to one sex only, else None.

    Non-ICD-10-CM codes return None (no rule known).
    """
    body = _body_or_none(code)
    if body is None:
        return None
    if body.startswith(_FEMALE):
        return "F"
    if body.startswith(_MALE):
        return "M"
    return None


def is_pregnancy_code(code: str) -> bool:
    """True for pregnancy/childbirth codes (chapter 15 and Z32-Z39 pregnancy encounters, Z3A)."""
    body = _body_or_none(code)
    return body is not None and body.startswith(_PREGNANCY)
