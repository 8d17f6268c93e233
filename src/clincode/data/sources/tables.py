"""Locate and read raw CSV tables (``.csv`` or ``.csv.gz``) with strict column and type checks.

Everything is read as text first (no type inference), so each conversion below can name the file,
column and first offending value when it fails instead of polars guessing a dtype silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, overload

import polars as pl

from clincode.data.errors import DataError, DataNotFoundError

# Datetime layouts seen in MIMIC-III v1.4 and MIMIC-IV v2.x exports (dates are midnight).
DATETIME_FORMATS: tuple[str, ...] = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
COLUMN_KINDS: tuple[str, ...] = ("int", "str", "datetime")


@overload
def find_table(root: Path, names: Sequence[str], *, required: Literal[True] = ...) -> Path: ...


@overload
def find_table(root: Path, names: Sequence[str], *, required: bool) -> Path | None: ...


def find_table(root: Path, names: Sequence[str], *, required: bool = True) -> Path | None:
    """First existing ``root/NAME.csv.gz`` or ``root/NAME.csv`` over ``names``; None if optional."""
    for name in names:
        for suffix in (".csv.gz", ".csv"):
            path = root / f"{name}{suffix}"
            if path.is_file():
                return path
    # File names are case-insensitive too (MIMIC-III ships PATIENTS.csv, some mirrors patients.csv).
    by_lower = {p.name.lower(): p for p in sorted(root.iterdir()) if p.is_file()} if root.is_dir() else {}
    for name in names:
        for suffix in (".csv.gz", ".csv"):
            found = by_lower.get(f"{name}{suffix}".lower())
            if found is not None:
                return found
    if required:
        tried = ", ".join(f"{n}.csv[.gz]" for n in names)
        raise DataNotFoundError(f"{root} has no {tried}; this table is required.")
    return None


def read_table(path: Path, columns: Mapping[str, str]) -> pl.DataFrame:
    """Read ``columns`` (name -> kind in ``COLUMN_KINDS``) of a CSV, converted and validated.

    ``int`` columns must be non-empty integers; ``str`` columns keep text (empty -> null);
    ``datetime`` columns parse one of ``DATETIME_FORMATS`` to Datetime("us") (empty -> null).

    Raises:
        DataError: a column is missing, an integer is empty or not an integer, or a non-empty
            date does not parse.
    """
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"{path} could not be read as CSV ({exc}).") from exc
    raw = match_header_case(raw, list(columns), path)
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise DataError(f"{path} lacks column(s) {missing}; found {raw.columns}, expected at least {list(columns)}.")
    out = {}
    for name, kind in columns.items():
        text = raw[name].str.strip_chars()
        text = pl.DataFrame({name: text}).select(pl.when(pl.col(name) != "").then(pl.col(name))).to_series()
        if kind == "int":
            out[name] = _to_int(path, name, text)
        elif kind == "datetime":
            out[name] = _to_datetime(path, name, text)
        elif kind == "str":
            out[name] = raw[name]  # raw text: code normalisation counts stray spaces itself
        else:
            raise ValueError(f"column kind {kind!r} for {name!r} is not one of {COLUMN_KINDS}.")
    return pl.DataFrame(out)


def match_header_case(raw: pl.DataFrame, wanted: Sequence[str], path: Path) -> pl.DataFrame:
    """Rename columns that match a wanted name up to case (``subject_id`` -> ``SUBJECT_ID``).

    MIMIC column names are case-insensitive in practice: MIMIC-III v1.4 is upper case, the
    PhysioNet MIMIC-III demo lower case, MIMIC-IV lower case. Two columns equal up to case are
    ambiguous and raise DataError.
    """
    renames = {}
    for name in wanted:
        if name in raw.columns:
            continue
        matches = [c for c in raw.columns if c.lower() == name.lower()]
        if len(matches) > 1:
            raise DataError(f"{path} has columns {matches}, equal up to case; expected one column {name!r}.")
        if matches:
            renames[matches[0]] = name
    return raw.rename(renames) if renames else raw


def _to_int(path: Path, name: str, text: pl.Series) -> pl.Series:
    values = text.cast(pl.Int64, strict=False)
    bad = values.is_null()
    if bad.any():
        example = text.filter(bad).head(1).to_list()[0]
        raise DataError(
            f"{path} column {name!r} has {int(bad.sum())} empty or non-integer value(s) (first: {example!r}); "
            "expected integers in every row."
        )
    return values.alias(name)


def _to_datetime(path: Path, name: str, text: pl.Series) -> pl.Series:
    parsed = pl.select(
        pl.coalesce(
            [pl.lit(text).str.to_datetime(f, strict=False, time_unit="us") for f in DATETIME_FORMATS]
        ).alias(name)
    ).to_series()
    bad = parsed.is_null() & text.is_not_null()
    if bad.any():
        example = text.filter(bad).head(1).to_list()[0]
        raise DataError(
            f"{path} column {name!r} has {int(bad.sum())} unparseable date(s) (first: {example!r}); "
            f"expected one of the formats {list(DATETIME_FORMATS)} or an empty cell."
        )
    return parsed
