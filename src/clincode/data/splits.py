"""Subject-level split assignment (``metadata/subject_splits.parquet``) and its invariants.

Splits are by patient: a subject belongs to exactly one of ``train`` / ``tuning`` / ``held_out``,
so no patient's history can leak from training into evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl

from clincode.data.columns import ColumnRule, check_columns, is_integer, is_string, read_parquet_schema
from clincode.data.errors import DataError, DataNotFoundError

SPLIT_NAMES: tuple[str, ...] = ("train", "tuning", "held_out")

SPLIT_COLUMNS: tuple[ColumnRule, ...] = (
    ColumnRule("subject_id", is_integer, "an integer type (Int64)"),
    ColumnRule("split", is_string, "String (Utf8) with values train / tuning / held_out"),
)


def read_subject_splits(path: Path) -> pl.DataFrame:
    """Read and validate a subject split file.

    Returns:
        DataFrame (subject_id Int64, split String), one row per subject; every split in
        ``SPLIT_NAMES`` has at least one subject.

    Raises:
        DataNotFoundError: ``path`` does not exist.
        DataError: missing / mistyped column, no rows, nulls, an unknown split name, a subject
            in two splits, or a split without subjects.
    """
    if not path.is_file():
        raise DataNotFoundError(f"{path} does not exist; expected the subject split assignment (subject_id, split).")
    check_columns(path, read_parquet_schema(path), SPLIT_COLUMNS)
    splits = pl.read_parquet(path, columns=["subject_id", "split"]).with_columns(
        pl.col("subject_id").cast(pl.Int64), pl.col("split").cast(pl.String)
    )
    if splits.height == 0:
        raise DataError(f"{path} has no rows; expected one (subject_id, split) row per subject.")
    for column in ("subject_id", "split"):
        nulls = splits[column].null_count()
        if nulls:
            raise DataError(f"{path} column {column!r} has {nulls} null value(s); expected none.")
    unknown = sorted(set(splits["split"].unique().to_list()) - set(SPLIT_NAMES))
    if unknown:
        raise DataError(f"{path} has split name(s) {unknown}; expected only {list(SPLIT_NAMES)}.")
    splits = splits.unique(maintain_order=True)
    check_disjoint({name: splits.filter(pl.col("split") == name)["subject_id"] for name in SPLIT_NAMES}, where=str(path))
    for name in SPLIT_NAMES:
        if splits.filter(pl.col("split") == name).height == 0:
            raise DataError(
                f"split {name!r} has no patients in {path}; expected subjects in each of {list(SPLIT_NAMES)}."
            )
    return splits


def check_disjoint(subjects: Mapping[str, pl.Series], where: str) -> None:
    """Raise DataError if any subject id appears in two of the given splits."""
    names = list(subjects)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = subjects[a].unique().is_in(subjects[b].unique().implode())
            n_shared = int(shared.sum())
            if n_shared:
                example = int(subjects[a].unique().filter(shared).sort()[0])
                raise DataError(
                    f"{where}: {n_shared} subject(s) are in both split {a!r} and split {b!r} "
                    f"(e.g. subject_id {example}); expected each subject in exactly one split."
                )


def split_counts(n: int, fractions: tuple[float, ...]) -> np.ndarray:
    """(len(fractions),) subjects per split: largest-remainder rounding of ``n * fractions``.

    The counts sum to ``n`` when ``fractions`` sum to 1 (a split may get 0 subjects when ``n`` is small).
    """
    exact = np.asarray(fractions, dtype=np.float64) * n
    counts = np.floor(exact).astype(np.int64)
    short = n - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts
