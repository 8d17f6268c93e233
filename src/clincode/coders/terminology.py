"""Code description phrases as dictionary keys: ICD-10-CM (English) and WHO ICD-10 in Spanish.

For each code: its official description and inclusion terms (simple_icd_10_cm), plus shortened
variants that read more like clinical text: the part before the first comma, and the phrase
without ``NOS``, ``unspecified``, bracketed notes or parenthesised words (``Essential (primary)
hypertension`` -> ``Essential hypertension``). A code unknown to the release (CodiEsp's
placeholder codes such as ``X58.XXX``) borrows the phrases of its nearest known ancestor.

:func:`cie10_es_descriptions`: the Spanish descriptions of WHO ICD-10 (the ``cie`` package, MIT),
for keys that can match Spanish text, with back-off to the nearest WHO ancestor of a CM code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from types import ModuleType

_BRACKETS = re.compile(r"\[[^\]]*\]")
_PARENS = re.compile(r"\([^)]*\)")
_FILLERS = re.compile(r"\b(NOS|unspecified|other|and unspecified|not elsewhere classified)\b", re.IGNORECASE)


def _sicd() -> ModuleType:
    """simple_icd_10_cm, imported on first use: its import parses the whole release (seconds)."""
    import simple_icd_10_cm

    return simple_icd_10_cm


def _known_ancestor(body: str) -> str | None:
    sicd = _sicd()
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
    sicd = _sicd()
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


def _cie10_table() -> dict[str, str]:
    """WHO ICD-10 code (dotted, upper case) -> Spanish description, from the ``cie`` package's CSV.

    Read straight from the zip the package ships (its own loader unpacks files into its install
    folder; this reads without writing anything).
    """
    import csv
    import io
    import zipfile
    from importlib.resources import files

    try:
        data = files("cie").joinpath("data/cie-10.zip")
    except ModuleNotFoundError as exc:
        raise RuntimeError("Spanish ICD-10 descriptions need the package `cie` (MIT): pip install cie") from exc
    with zipfile.ZipFile(io.BytesIO(data.read_bytes())) as archive:
        text = archive.read("cie-10.csv").decode("utf-8")
    out: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(text)):
        code = (row.get("code") or "").strip().upper()
        if "-" in code or len(code) < 3:  # chapters and blocks ("A00-B99") are no codes
            continue
        out[code if len(code) == 3 else f"{code[:3]}.{code[3:]}"] = (row.get("description") or "").strip()
    return out


def cie10_es_descriptions(codes: Iterable[str], *, backoff: bool = True) -> dict[str, list[str]]:
    """Code -> Spanish description phrases (WHO ICD-10, package ``cie``) for the ``ICD10CM//`` codes.

    ICD-10-CM extends WHO ICD-10 below the 4th character, so a CM code that WHO lacks takes, with
    ``backoff``, the description of its longest WHO ancestor (``N28.89`` -> ``N28.8``, else
    ``N28``); without it only codes WHO has get phrases. Phrases are the description and its
    text without bracketed or parenthesised words and its part before the first comma
    (``"Hipertensión esencial (primaria)"`` -> also ``"Hipertensión esencial"``).
    """
    table = _cie10_table()
    out: dict[str, list[str]] = {}
    for code in codes:
        vocab, _, body = code.partition("//")
        if vocab != "ICD10CM" or not body:
            continue
        flat = body.replace(".", "").upper()
        candidates = [flat[:n] for n in range(len(flat), 2, -1)] if backoff else [flat]
        for c in candidates:
            dotted = c if len(c) == 3 else f"{c[:3]}.{c[3:]}"
            if dotted in table and table[dotted]:
                phrase = table[dotted]
                bare = " ".join(_PARENS.sub(" ", _BRACKETS.sub(" ", phrase)).split())
                out[code] = list(dict.fromkeys(p for p in (phrase, bare, bare.split(",")[0].strip()) if p))
                break
    return out
