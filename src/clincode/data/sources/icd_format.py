"""Normalise raw MIMIC ICD codes and restore the dots of their prefixed MEDS form.

MIMIC stores codes without dots (``25000``, ``E119``, ``E8809``); MEDS ETLs and clincode use
dotted, vocabulary-prefixed codes. Dot positions (CMS conventions):

- ICD-10-CM diagnoses: after the 3rd character (``ICD10CM//E11.9``).
- ICD-9-CM diagnoses: after the 3rd character, E-codes after the 4th (``ICD9CM//E880.9``).
- ICD-9-CM procedures (volume 3): after the 2nd character (``ICD9PROC//39.61``).
- ICD-10-PCS: no dots (``ICD10PCS//0DTJ4ZZ``).
"""

from __future__ import annotations

import polars as pl

# (kind, icd_version) -> (prefix, regular expression of a normalised body, dot position or None).
# The patterns only check shape (length and character classes), not membership in a release.
CODE_SYSTEMS: dict[tuple[str, int], tuple[str, str, int | None]] = {
    ("diagnosis", 10): ("ICD10CM", r"^[A-Z][0-9][0-9A-Z]{1,5}$", 3),
    ("diagnosis", 9): ("ICD9CM", r"^([0-9]{3,5}|V[0-9]{2,4}|E[0-9]{3,4})$", 3),
    ("procedure", 10): ("ICD10PCS", r"^[0-9A-HJ-NP-Z]{7}$", None),
    ("procedure", 9): ("ICD9PROC", r"^[0-9]{2,4}$", 2),
}


def normalise_body(raw: pl.Expr) -> pl.Expr:
    """Upper-case ``raw`` with every whitespace character and dot removed (null stays null)."""
    return raw.str.replace_all(r"[\s.]", "").str.to_uppercase()


def has_stray_chars(raw: pl.Expr) -> pl.Expr:
    """True where ``raw`` contains whitespace or a dot (MIMIC ships neither)."""
    return raw.str.contains(r"[\s.]")


def dotted_code(body: pl.Expr, kind: str, version: int) -> pl.Expr:
    """Prefixed, dotted code of a normalised ``body`` for one (kind, version) system."""
    prefix, _, dot = CODE_SYSTEMS[(kind, version)]
    if dot is None:
        return pl.lit(f"{prefix}//") + body
    # ICD-9-CM E-codes (external causes) have a 4-character category, so the dot moves one right.
    pos = pl.when(body.str.starts_with("E")).then(dot + 1).otherwise(dot) if (kind, version) == ("diagnosis", 9) else pl.lit(dot)
    head = body.str.slice(0, pos)
    tail = body.str.slice(pos)
    return pl.lit(f"{prefix}//") + pl.when(tail.str.len_chars() > 0).then(head + "." + tail).otherwise(head)


def dotted_str(body: str, kind: str, version: int) -> str:
    """Plain-Python twin of :func:`dotted_code` for one code (tests and small lookups)."""
    prefix, _, dot = CODE_SYSTEMS[(kind, version)]
    if dot is not None and (kind, version) == ("diagnosis", 9) and body.startswith("E"):
        dot += 1
    if dot is None or len(body) <= dot:
        return f"{prefix}//{body}"
    return f"{prefix}//{body[:dot]}.{body[dot:]}"
