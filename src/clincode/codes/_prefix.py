"""Prefixed code strings (MEDS convention ``VOCABULARY//CODE``) and their vocabularies."""

from __future__ import annotations

ICD10CM = "ICD10CM"
ICD9CM = "ICD9CM"
CCS = "CCS"
ICD10CM_CHAPTER = "ICD10CM_CHAPTER"
SEPARATOR = "//"


def split_code(code: str) -> tuple[str, str]:
    """``"ICD10CM//E11.9"`` -> ``("ICD10CM", "E11.9")``; a code without ``//`` has vocabulary ``""``.

    Only the first separator splits, so ``"LAB//A//B"`` -> ``("LAB", "A//B")``.
    """
    if not isinstance(code, str):
        raise ValueError(f"code {code!r} is a {type(code).__name__}; expected a str such as 'ICD10CM//E11.9'.")
    vocab, sep, body = code.partition(SEPARATOR)
    if not sep:
        return "", code
    return vocab, body


def undotted(body: str) -> str:
    """ICD body without the dot, upper-cased and stripped: ``" e11.9"`` -> ``"E119"``."""
    return body.replace(".", "").strip().upper()


def require_vocab(code: str, vocab: str) -> str:
    """Body of ``code`` after checking its vocabulary prefix is ``vocab``; ValueError otherwise."""
    found, body = split_code(code)
    if found != vocab:
        raise ValueError(
            f"code {code!r} has vocabulary {found or '(none)'!r}; expected a code of the form "
            f"'{vocab}//{_EXAMPLES.get(vocab, 'X')}'."
        )
    if not body.strip():
        raise ValueError(f"code {code!r} has an empty body after the {vocab}// prefix.")
    return body


_EXAMPLES = {ICD10CM: "E11.9", ICD9CM: "250.00", CCS: "49", ICD10CM_CHAPTER: "04"}
