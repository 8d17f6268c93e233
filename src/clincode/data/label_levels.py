"""Map a prefixed diagnosis code to its label at a chosen granularity.

Levels:
    "code":     the code itself (``ICD10CM//E11.9``).
    "category": the 3-character ICD category (``ICD10CM//E11.9`` -> ``ICD10CM//E11``; ICD-9-CM
                E-codes keep 4 characters, ``ICD9CM//E880.9`` -> ``ICD9CM//E880``, as in the
                ICD-9-CM tabular list where E-code categories are E800-E999).
    "ccs":      the single-level CCS category from ``clincode.codes.ccs_category`` (imported
                lazily), as ``CCS//<category>``; a code without a CCS mapping has no label.
"""

from __future__ import annotations

from collections.abc import Callable

LEVELS: tuple[str, ...] = ("code", "category", "ccs")
CCS_PREFIX = "CCS//"


def split_prefix(code: str, prefixes: tuple[str, ...]) -> tuple[str, str] | None:
    """(prefix, remainder) for the first matching prefix, or None if no prefix matches."""
    for prefix in prefixes:
        if code.startswith(prefix):
            return prefix, code[len(prefix) :]
    return None


def category_of(prefix: str, remainder: str) -> str:
    """3-character ICD category of ``prefix + remainder`` (dots ignored)."""
    body = remainder.replace(".", "").strip()
    width = 4 if body.startswith("E") and _is_icd9(prefix) else 3
    return prefix + body[:width]


def _is_icd9(prefix: str) -> bool:
    p = prefix.upper()
    return "ICD9" in p or "ICD//9" in p


def _ccs_lookup() -> Callable[[str], str | None]:
    try:
        from clincode.codes import ccs_category
    except ImportError as exc:  # written by another part of the package
        raise ImportError(
            "label level 'ccs' needs clincode.codes.ccs_category, which is not importable; "
            "use level 'code' or 'category'."
        ) from exc
    return ccs_category


def label_mapper(level: str, prefixes: tuple[str, ...]) -> Callable[[str], str | None]:
    """A function code -> label (or None when the code is not a label code at this level)."""
    if level not in LEVELS:
        raise ValueError(f"label level {level!r} is unknown; expected one of {list(LEVELS)}.")
    if level == "code":

        def to_code(code: str) -> str | None:
            return code if split_prefix(code, prefixes) is not None else None

        return to_code
    if level == "category":

        def to_category(code: str) -> str | None:
            parts = split_prefix(code, prefixes)
            return None if parts is None else category_of(*parts)

        return to_category
    ccs = _ccs_lookup()

    def to_ccs(code: str) -> str | None:
        if split_prefix(code, prefixes) is None:
            return None
        try:
            group = ccs(code)
        except (KeyError, ValueError, NotImplementedError):
            # No mapping for this code (e.g. an ICD version the CCS tables do not cover).
            return None
        if group is None or str(group) == "":
            return None
        group = str(group)
        return group if group.startswith(CCS_PREFIX) else CCS_PREFIX + group

    return to_ccs
