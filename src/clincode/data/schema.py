"""Validate a MEDS-shaped dataset directory cheaply, before any heavy work.

Layout (MEDS conventions; real exports and ``clincode.data.synthetic`` look the same)::

    DIR/data/**/*.parquet               events: subject_id, time, code[, numeric_value]
    DIR/metadata/subject_splits.parquet subject_id, split in {train, tuning, held_out}
    DIR/metadata/codes.parquet          optional here (descriptions come from clincode.codes)

Only parquet *schemas* and footer row counts are read from the event shards; the split file is
small (one row per subject) and is read fully. Every failure raises :class:`DataError` with one
sentence naming the file, the column or split, and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clincode.data.columns import (
    ColumnRule,
    check_columns,
    is_integer,
    is_numeric_or_null,
    is_string,
    is_time,
    num_rows,
    read_parquet_schema,
)
from clincode.data.errors import DataError, DataNotFoundError
from clincode.data.splits import SPLIT_NAMES, read_subject_splits

__all__ = [
    "EVENT_COLUMNS",
    "SUBJECT_SPLITS_FILE",
    "DataError",
    "DataNotFoundError",
    "MedsLayout",
    "find_shards",
    "validate_meds_dir",
]

SUBJECT_SPLITS_FILE = Path("metadata") / "subject_splits.parquet"

EVENT_COLUMNS: tuple[ColumnRule, ...] = (
    ColumnRule("subject_id", is_integer, "an integer type (Int64)"),
    ColumnRule("time", is_time, "Datetime (any unit; null for static events)"),
    ColumnRule("code", is_string, "String (Utf8)"),
    # MEDS requires numeric_value, but no task here reads it, so a shard without it is accepted.
    ColumnRule("numeric_value", is_numeric_or_null, "a float type (Float32)", required=False),
)


@dataclass(frozen=True)
class MedsLayout:
    """Paths and sizes of a validated MEDS directory.

    Attributes:
        root: the dataset directory.
        shards: event parquet files, sorted by path.
        subject_splits: path of ``metadata/subject_splits.parquet``.
        num_events: total event rows over all shards (from parquet footers).
        split_sizes: number of subjects per split name (from the split file), in ``SPLIT_NAMES`` order.
    """

    root: Path
    shards: tuple[Path, ...]
    subject_splits: Path
    num_events: int
    split_sizes: dict[str, int]


def find_shards(root: Path) -> tuple[Path, ...]:
    """Event shards under ``root/data`` (nested folders allowed), sorted by path."""
    data_dir = root / "data"
    if not data_dir.is_dir():
        raise DataNotFoundError(f"{data_dir} does not exist; a MEDS dataset keeps its event shards there.")
    shards = tuple(sorted(p for p in data_dir.glob("**/*.parquet") if p.is_file()))
    if not shards:
        raise DataError(f"{data_dir} holds no parquet shards (looked for **/*.parquet); the dataset is empty.")
    return shards


def validate_meds_dir(meds_dir: str | Path) -> MedsLayout:
    """Check a MEDS directory's layout, shard schemas and split file; no event rows are read.

    Raises:
        DataNotFoundError: the directory, ``data/`` or the split file does not exist.
        DataError: a shard lacks a column or has a wrong dtype, the dataset has no events, or the
            split file is invalid (unknown split, subject in two splits, an empty split).
    """
    root = Path(meds_dir)
    if not root.exists():
        raise DataNotFoundError(f"{root} does not exist; expected a MEDS dataset directory.")
    if not root.is_dir():
        raise DataError(f"{root} is a file; expected a MEDS dataset directory.")
    shards = find_shards(root)
    num_events = 0
    for shard in shards:
        check_columns(shard, read_parquet_schema(shard), EVENT_COLUMNS)
        num_events += num_rows(shard)
    if num_events == 0:
        raise DataError(f"{root / 'data'} has {len(shards)} shard(s) but no event rows; the dataset is empty.")
    splits_path = root / SUBJECT_SPLITS_FILE
    splits = read_subject_splits(splits_path)
    counts = dict(splits.group_by("split").len().iter_rows())
    sizes = {name: int(counts.get(name, 0)) for name in SPLIT_NAMES}
    return MedsLayout(root=root, shards=shards, subject_splits=splits_path, num_events=num_events, split_sizes=sizes)
