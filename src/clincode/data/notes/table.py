"""Generic notes table reader: parquet, CSV or JSONL with user column names.

The file holds one row per document with (under any names, mapped by ``columns``) a document id,
a subject id, the text, the codes and the split. Codes are a list column (parquet, JSONL) or, with
``codes_sep``, one string joined by that separator (CSV). Codes must carry a vocabulary prefix
(``ICD10CM//E11.9``); they are normalised (upper case, ICD dots restored) and checked as in
:mod:`clincode.data.notes._codes`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl

from clincode.data.errors import DataError, DataNotFoundError
from clincode.data.notes._codes import clean_codes
from clincode.data.notes._skips import SkipCounter
from clincode.data.notes.result import NOTES_COLUMNS, NotesTable, build_frame, check_nonempty, count_codes
from clincode.data.splits import SPLIT_NAMES

_READERS = {
    ".parquet": lambda p: pl.read_parquet(p),
    ".csv": lambda p: pl.read_csv(p, infer_schema_length=0),  # all strings: ids keep leading zeros
    ".jsonl": lambda p: pl.read_ndjson(p),
    ".ndjson": lambda p: pl.read_ndjson(p),
}


def read_notes_table(
    path: Path,
    *,
    columns: Mapping[str, str] | None = None,
    codes_sep: str | None = None,
    split_names: Mapping[str, str] | None = None,
    on_error: str = "raise",
) -> NotesTable:
    """Read a user's notes file into the canonical notes table.

    Args:
        path: ``.parquet``, ``.csv`` or ``.jsonl`` / ``.ndjson`` file.
        columns: canonical name -> the file's column name, for any of ``doc_id``, ``subject_id``,
            ``text``, ``codes``, ``split`` (unmapped names are looked up as is).
        codes_sep: separator of a string codes column (e.g. ``";"``); None expects a list column.
        split_names: the file's split value -> canonical split, e.g. ``{"dev": "tuning",
            "test": "held_out"}``; canonical names always map to themselves.
        on_error: ``"raise"`` at the first bad row / code, or ``"skip"`` and count it.

    Raises:
        DataNotFoundError: ``path`` does not exist.
        DataError: unknown file type, a missing column, a wrongly typed codes column, or a bad
            row (null or duplicate id, empty text, unknown split, malformed code) under
            ``on_error="raise"``; or no document left.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path} does not exist; expected a notes table (parquet, CSV or JSONL).")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path} has suffix {path.suffix!r}; expected one of {', '.join(_READERS)}.")
    mapping = {name: name for name in NOTES_COLUMNS} | dict(columns or {})
    unknown_keys = sorted(set(mapping) - set(NOTES_COLUMNS))
    if unknown_keys:
        raise ValueError(f"columns names {unknown_keys}; expected keys among {', '.join(NOTES_COLUMNS)}.")
    splits = {name: name for name in SPLIT_NAMES} | dict(split_names or {})
    bad_targets = sorted(set(splits.values()) - set(SPLIT_NAMES))
    if bad_targets:
        raise ValueError(f"split_names maps to {bad_targets}; expected values among {', '.join(SPLIT_NAMES)}.")

    raw = _read(path, reader)
    for canonical, name in mapping.items():
        if name not in raw.columns:
            raise DataError(
                f"{path} has no column {name!r} (the {canonical} column); columns are {raw.columns}."
            )
    codes_dtype = raw.schema[mapping["codes"]]
    if codes_sep is None and not isinstance(codes_dtype, pl.List):
        raise DataError(
            f"{path} column {mapping['codes']!r} is {codes_dtype}; expected a list of strings, or pass "
            "codes_sep to split a string column."
        )
    if codes_sep is not None and codes_dtype not in (pl.String, pl.Null):
        raise DataError(f"{path} column {mapping['codes']!r} is {codes_dtype}; codes_sep expects a string column.")

    skips = SkipCounter(on_error, str(path))
    unknown: list[str] = []
    seen: set[str] = set()
    out: dict[str, list] = {name: [] for name in NOTES_COLUMNS}
    rows = raw.select([pl.col(mapping[name]) for name in NOTES_COLUMNS]).iter_rows()
    for number, (doc_id, subject_id, text, codes, split) in enumerate(rows, start=1):
        where = f"{path} row {number}"
        if doc_id is None or not str(doc_id).strip():
            skips.problem("missing_doc_id", f"{where} has an empty {mapping['doc_id']!r}; expected a document id")
            continue
        doc_id = str(doc_id).strip()
        if doc_id in seen:
            skips.problem("duplicate_doc_id", f"{where} repeats document id {doc_id!r}; expected unique ids")
            continue
        if subject_id is None or (isinstance(subject_id, str) and not subject_id.strip()):
            skips.problem("missing_subject_id", f"{where} (document {doc_id!r}) has an empty subject id")
            continue
        if not isinstance(text, str) or not text.strip():
            skips.problem("empty_text", f"{where} (document {doc_id!r}) has empty text; expected the document text")
            continue
        if split not in splits:
            skips.problem(
                "unknown_split",
                f"{where} (document {doc_id!r}) has split {split!r}; expected one of {', '.join(splits)}",
            )
            continue
        if codes_sep is not None:
            code_list = [c for c in (codes or "").split(codes_sep) if c.strip()]
        else:
            code_list = [c for c in (codes or []) if c is not None]
        seen.add(doc_id)
        out["doc_id"].append(doc_id)
        out["subject_id"].append(_subject(subject_id))
        out["text"].append(text)
        out["codes"].append(clean_codes(code_list, f"{where} (document {doc_id!r})", skips, unknown))
        out["split"].append(splits[split])
    frame = build_frame(**out)
    check_nonempty(frame, str(path))
    return NotesTable(frame=frame, skipped=skips.summary(), unknown_codes=count_codes(unknown))


_KINDS = {".parquet": "parquet", ".csv": "CSV", ".jsonl": "JSON lines", ".ndjson": "JSON lines"}


def _read(path: Path, reader: Callable[[Path], pl.DataFrame]) -> pl.DataFrame:
    """Run ``reader`` on ``path``; an empty, truncated, non-UTF-8 or malformed file raises one DataError naming it."""
    from clincode.io import short_error

    kind = _KINDS[path.suffix.lower()]
    expected = f"a {kind} notes table with columns {', '.join(NOTES_COLUMNS)}"
    if path.stat().st_size == 0:
        raise DataError(f"{path} is an empty file; expected {expected}.")
    if kind != "parquet":
        _check_utf8_start(path, expected)
    try:
        return reader(path)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path} could not be read as {kind} ({short_error(exc)}); expected {expected}.") from None


def _check_utf8_start(path: Path, expected: str, size: int = 1 << 20) -> None:
    """DataError if the first ``size`` bytes of a text file are not UTF-8 (polars would read garbage)."""
    import codecs

    with open(path, "rb") as handle:
        head = handle.read(size)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < size)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); expected {expected}, UTF-8 encoded.") from None


def _subject(value: object) -> str | int:
    """Integers (and all-digit strings from CSV) become int so the column is Int64 when it can be."""
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() else text
