"""CodiEsp-X (CLEF eHealth 2020, explainable coding): a code counts only with a text reference that shows it.

Files (tab-separated, no header, UTF-8):

- gold, as the release's ``{split}X.tsv``: ``articleID  label  code  reference-text  "start end"``,
  where a discontinuous reference is ``"s1 e1;s2 e2"``;
- predictions: ``articleID  "start end"  label  code``, one line per predicted reference;

``label`` is ``DIAGNOSTICO`` (ICD-10-CM) or ``PROCEDIMIENTO`` (ICD-10-PCS); offsets are character
offsets into the document's text, ``end`` exclusive.

The rule (the task's official definition, rewritten here):

- codes are compared in lower case; a predicted code outside the valid code lists (when given) is
  dropped before anything is counted;
- a gold reference spans from its first start to its last end (a discontinuous reference covers
  everything between its pieces; one whose pieces are listed out of text order ends before it
  starts and cannot be hit, as in the official script);
- a gold (document, code) pair is a **hit** when some predicted reference of that code in that
  document contains one of the pair's gold references, overshooting it by at most ``tolerance``
  (10) characters on each side: ``0 <= gold_start - pred_start <= 10`` and
  ``0 <= pred_end - gold_end <= 10``;
- precision = hits / distinct predicted (document, code) pairs (pairs of documents absent from the
  gold file included: they are false positives), recall = hits / distinct gold (document, code)
  pairs; micro F1 their harmonic mean (0 when both are 0).

The per-type scores (:func:`codiesp_x_by_type`) keep the gold and predicted lines of one label.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOLERANCE = 10
LABELS: dict[str, str] = {"D": "DIAGNOSTICO", "P": "PROCEDIMIENTO"}
GOLD_FIELDS = ("articleID", "label", "code", "reference text", "position")
PRED_FIELDS = ("articleID", "position", "label", "code")


@dataclass(frozen=True)
class Reference:
    """One code reference of a document: ``[start, end)`` (a discontinuous one: first start to last end)."""

    doc: str
    label: str
    code: str
    start: int
    end: int


@dataclass(frozen=True)
class XScore:
    """Micro precision / recall / F1 over distinct (document, code) pairs, with the counts behind them."""

    precision: float
    recall: float
    f1: float
    hits: int
    predicted: int
    gold: int

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                "hits": self.hits, "predicted": self.predicted, "gold": self.gold}


def parse_position(value: str, where: str, *, ordered: bool = True) -> tuple[int, int]:
    """``"s e"`` or ``"s1 e1;s2 e2;..."`` -> (first start, last end) as written; ValueError naming ``where``.

    ``ordered``: require ``start <= end``. The release's gold has discontinuous references whose
    pieces are listed out of text order (``"2654 2674;691 706"``); read as the official rule reads
    them, first start to last end, they end before they start and no predicted span can hit them.
    """
    pieces = [p.split() for p in value.strip().split(";")]
    try:
        numbers = [[int(x) for x in piece] for piece in pieces]
    except ValueError:
        numbers = []
    if not numbers or any(len(piece) != 2 for piece in numbers):
        raise ValueError(f"{where}: field position is {value!r}; expected \"start end\" (or \"s1 e1;s2 e2\" for a discontinuous reference) in integers")
    start, end = numbers[0][0], numbers[-1][1]
    if min(min(piece) for piece in numbers) < 0 or (ordered and end < start):
        raise ValueError(f"{where}: field position is {value!r}; expected offsets >= 0 and start <= end")
    return start, end


def _rows(path: Path, fields: Sequence[str], what: str) -> Iterable[tuple[int, list[str]]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; expected a CodiEsp-X {what} file ({' <TAB> '.join(fields)})")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != len(fields):
            raise ValueError(
                f"{path} line {number} has {len(parts)} tab-separated fields; expected {len(fields)} "
                f"({', '.join(fields)}) in a CodiEsp-X {what} file"
            )
        empty = [f for f, v in zip(fields, parts, strict=True) if not v.strip() and f != "reference text"]
        if empty:
            raise ValueError(f"{path} line {number}: field {empty[0]} is empty; expected a value")
        yield number, parts


def read_x_gold(path: Path) -> list[Reference]:
    """The references of a CodiEsp-X gold file (``{split}X.tsv``); errors name the file, line and field."""
    out = []
    for number, (doc, label, code, _text, position) in _rows(path, GOLD_FIELDS, "gold"):
        start, end = parse_position(position, f"{path} line {number}", ordered=False)
        out.append(Reference(doc.strip(), label.strip().upper(), code.strip().lower(), start, end))
    return out


def read_x_predictions(path: Path) -> list[Reference]:
    """The references of a CodiEsp-X prediction file; errors name the file, line and field."""
    out = []
    for number, (doc, position, label, code) in _rows(path, PRED_FIELDS, "prediction"):
        start, end = parse_position(position, f"{path} line {number}")
        if ";" in position:
            raise ValueError(f"{path} line {number}: field position is {position!r}; expected one \"start end\" per predicted line")
        out.append(Reference(doc.strip(), label.strip().upper(), code.strip().lower(), start, end))
    return out


def codiesp_x_score(
    gold: Iterable[Reference],
    predicted: Iterable[Reference],
    valid_codes: Collection[str] | None = None,
    tolerance: int = TOLERANCE,
) -> XScore:
    """CodiEsp-X micro precision, recall and F1 (rule in the module docstring).

    ``valid_codes``: the codes a prediction may carry (compared in lower case; None keeps every code).
    """
    if tolerance < 0:
        raise ValueError(f"tolerance is {tolerance}; expected >= 0 characters")
    valid = None if valid_codes is None else {c.strip().lower() for c in valid_codes}
    gold_refs: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for ref in gold:
        gold_refs.setdefault((ref.doc, ref.code.lower()), []).append((ref.start, ref.end))
    pred_refs: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for ref in predicted:
        code = ref.code.lower()
        if valid is not None and code not in valid:
            continue
        pred_refs.setdefault((ref.doc, code), []).append((ref.start, ref.end))
    hits = 0
    for pair, refs in gold_refs.items():
        preds = pred_refs.get(pair, ())
        if any(0 <= gs - ps <= tolerance and 0 <= pe - ge <= tolerance for gs, ge in refs for ps, pe in preds):
            hits += 1
    n_pred, n_gold = len(pred_refs), len(gold_refs)
    precision = hits / n_pred if n_pred else 0.0
    recall = hits / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return XScore(precision, recall, f1, hits, n_pred, n_gold)


def codiesp_x_by_type(
    gold: Sequence[Reference],
    predicted: Sequence[Reference],
    valid_codes: Collection[str] | None = None,
    tolerance: int = TOLERANCE,
) -> dict[str, XScore]:
    """``{"all": pooled, "D": diagnoses, "P": procedures}``; a type keeps the lines of its label only."""
    out = {"all": codiesp_x_score(gold, predicted, valid_codes, tolerance)}
    for kind, label in LABELS.items():
        out[kind] = codiesp_x_score(
            [r for r in gold if r.label == label], [r for r in predicted if r.label == label], valid_codes, tolerance
        )
    return out


def read_valid_codes(path: Path) -> set[str]:
    """Codes of a CodiEsp code list (first tab-separated column of each line), lower case."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; expected a code list (one code per line, first tab-separated column)")
    codes = {line.split("\t", 1)[0].strip().lower() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}
    if not codes:
        raise ValueError(f"{path} holds no code; expected one code per line")
    return codes
