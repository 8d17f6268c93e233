"""Column rules for parquet inputs: read a file's schema (not its rows) and check dtypes."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from clincode.data.errors import DataError


def is_integer(dtype: pl.DataType) -> bool:
    return dtype.is_integer()


def is_time(dtype: pl.DataType) -> bool:
    # Any unit / time zone is accepted and normalised to Datetime("us") when read; a Date is a
    # day-resolution timestamp (midnight), which some ETLs emit for admissions.
    return isinstance(dtype, pl.Datetime) or dtype == pl.Date


def is_string(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)


def is_numeric_or_null(dtype: pl.DataType) -> bool:
    return dtype.is_float() or dtype.is_integer() or dtype == pl.Null


@dataclass(frozen=True)
class ColumnRule:
    """A required (or optional) column and the family of dtypes accepted for it."""

    name: str
    accepts: Callable[[pl.DataType], bool]
    expected: str
    required: bool = True


def read_parquet_schema(path: Path) -> dict[str, pl.DataType]:
    """Schema of one parquet file as polars dtypes, read from the footer only."""
    try:
        return dict(pl.read_parquet_schema(path))
    except Exception as exc:  # polars raises several error types for a non-parquet file
        raise DataError(f"{path} is not a readable parquet file ({type(exc).__name__}: {exc}).") from exc


def num_rows(path: Path) -> int:
    """Row count of one parquet file, read from the footer only."""
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception as exc:
        raise DataError(f"{path} is not a readable parquet file ({type(exc).__name__}: {exc}).") from exc


def check_columns(path: Path, schema: dict[str, pl.DataType], rules: tuple[ColumnRule, ...]) -> None:
    """Raise DataError if ``schema`` lacks a required column or has one of the wrong dtype."""
    for rule in rules:
        if rule.name not in schema:
            if not rule.required:
                continue
            found = ", ".join(schema) or "no columns"
            close = difflib.get_close_matches(rule.name, list(schema), n=1, cutoff=0.5)
            hint = f"; is {close[0]!r} meant to be {rule.name!r}?" if close else "."
            raise DataError(
                f"{path} has no column {rule.name!r} (expected {rule.expected}; found: {found}){hint}"
            )
        dtype = schema[rule.name]
        if not rule.accepts(dtype):
            raise DataError(f"{path} column {rule.name!r} has dtype {dtype}, expected {rule.expected}.")
