"""Read selected text columns of a MIMIC CSV (``.csv`` or ``.csv.gz``), checking the header first.

MIMIC note files are large (MIMIC-III NOTEEVENTS: ~4 GB of text, 2 M rows), so only the needed
columns are read, every value as text (ids keep their exact form; conversions below name the file,
column and first bad value). A plain ``.csv`` is scanned lazily so a row filter (e.g. ``CATEGORY ==
"Discharge summary"``) is applied while reading; a ``.csv.gz`` is decompressed in memory by polars
(decompress it beforehand to save memory on the full NOTEEVENTS).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from clincode.data.errors import DataError, DataNotFoundError


def find_csv(root: Path, name: str, what: str) -> Path:
    """``root/name.csv.gz`` or ``root/name.csv``; DataNotFoundError naming both if neither exists."""
    for suffix in (".csv.gz", ".csv"):
        path = root / f"{name}{suffix}"
        if path.is_file():
            return path
    by_lower = {p.name.lower(): p for p in sorted(root.iterdir()) if p.is_file()} if root.is_dir() else {}
    for suffix in (".csv.gz", ".csv"):
        if f"{name}{suffix}".lower() in by_lower:
            return by_lower[f"{name}{suffix}".lower()]
    raise DataNotFoundError(f"{root} has no {name}.csv.gz or {name}.csv; expected the {what}.")


def csv_header(path: Path) -> list[str]:
    """Column names on the first line of ``path`` (gzip-compressed when it ends in ``.gz``)."""
    try:
        raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
        with raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as handle:
            return next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path} could not be read as CSV ({exc}).") from exc


def read_columns(path: Path, columns: Sequence[str], row_filter: pl.Expr | None = None) -> pl.DataFrame:
    """The given ``columns`` of ``path`` as String columns, optionally filtered by ``row_filter``.

    Raises:
        DataError: a column is missing (the message names the file and every missing column and
            lists the columns found), or the file is not valid CSV.
    """
    header = csv_header(path)
    # Column names are matched case-insensitively (MIMIC-III v1.4 is upper case, its demo lower case).
    actual = {c: next((h for h in header if h.lower() == c.lower()), c) if c not in header else c for c in columns}
    missing = [c for c in columns if actual[c] not in header]
    if missing:
        raise DataError(
            f"{path} lacks column(s) {missing}; found {header}, expected at least {list(columns)}."
        )
    rename = {actual[c]: c for c in columns if actual[c] != c}
    try:
        if path.suffix == ".gz":
            frame = pl.read_csv(path, columns=[actual[c] for c in columns], infer_schema=False).rename(rename)
            return frame.filter(row_filter) if row_filter is not None else frame
        lazy = pl.scan_csv(path, infer_schema=False).select([actual[c] for c in columns]).rename(rename)
        if row_filter is not None:
            lazy = lazy.filter(row_filter)
        return lazy.collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"{path} could not be read as CSV ({exc}).") from exc


def int_ids(frame: pl.DataFrame, column: str) -> pl.Series:
    """Column ``column`` as Int64 (null where empty or not an integer: the caller decides)."""
    return frame[column].str.strip_chars().cast(pl.Int64, strict=False).alias(column)
