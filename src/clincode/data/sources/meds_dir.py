"""Any MEDS dataset on disk (``data/**/*.parquet`` + ``metadata/``, as MEDS ETLs write it).

Events are cast to the canonical dtypes (subject_id Int64, time Datetime("us"), code String,
numeric_value Float32); rows with a null subject or code are dropped and counted, as are timed
events before the subject's ``MEDS_BIRTH`` or after the day of its ``MEDS_DEATH``. The source's
``metadata/codes.parquet`` descriptions are used when present; its ``subject_splits.parquet`` is
kept and must be valid (as ``clincode train`` checks it) and cover every subject; without one, new
splits are drawn.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from clincode.data.columns import check_columns, read_parquet_schema
from clincode.data.errors import DataError, DataNotFoundError
from clincode.data.schema import EVENT_COLUMNS, find_shards
from clincode.data.sources.counts import SkipCounts
from clincode.data.sources.hosp import EMPTY_DICTIONARY
from clincode.data.splits import read_subject_splits

REQUIRED_FILES: tuple[str, ...] = ("data/**/*.parquet",)
OPTIONAL_FILES: tuple[str, ...] = ("metadata/codes.parquet", "metadata/subject_splits.parquet")


def read_meds_events(path: Path, counts: SkipCounts) -> pl.DataFrame:
    """Canonical, validated events of every shard under ``path/data``."""
    if not path.is_dir():
        raise DataNotFoundError(f"{path} is not a directory; expected a MEDS dataset (data/ and metadata/).")
    frames = []
    for shard in find_shards(path):
        schema = read_parquet_schema(shard)
        check_columns(shard, schema, EVENT_COLUMNS)
        lf = pl.scan_parquet(shard)
        value = pl.col("numeric_value") if "numeric_value" in schema else pl.lit(None)
        time = pl.col("time")
        if lf.collect_schema()["time"] == pl.Date:
            time = time.cast(pl.Datetime("us"))
        elif getattr(lf.collect_schema()["time"], "time_zone", None):
            time = time.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        frames.append(
            lf.select(
                pl.col("subject_id").cast(pl.Int64),
                time.cast(pl.Datetime("us")).alias("time"),
                pl.col("code").cast(pl.String),
                value.cast(pl.Float32).alias("numeric_value"),
            ).collect()
        )
    events = pl.concat(frames, how="vertical")
    bad = events["subject_id"].is_null() | events["code"].is_null()
    counts.add("events_with_null_subject_or_code", int(bad.sum()))
    events = events.filter(~bad)
    bounds = events.group_by("subject_id").agg(
        pl.col("time").filter(pl.col("code") == "MEDS_BIRTH").min().alias("birth"),
        pl.col("time").filter(pl.col("code") == "MEDS_DEATH").max().alias("death"),
    )
    events = events.join(bounds, on="subject_id", how="left")
    timed = pl.col("time").is_not_null() & ~pl.col("code").is_in(["MEDS_BIRTH", "MEDS_DEATH"])
    before = timed & pl.col("birth").is_not_null() & (pl.col("time") < pl.col("birth"))
    after = timed & pl.col("death").is_not_null() & (pl.col("time").dt.date() > pl.col("death").dt.date())
    counts.add("events_before_birth", events.filter(before).height)
    counts.add("events_after_death", events.filter(after & ~before).height)
    events = events.filter(~before & ~after).drop("birth", "death")
    if events.height == 0:
        raise DataError(f"{path / 'data'} has no usable event rows; the dataset is empty.")
    return events.sort("subject_id", "time", "code", nulls_last=False)


def read_meds_dictionary(path: Path) -> pl.DataFrame:
    """code -> description from ``metadata/codes.parquet`` when present (else empty)."""
    codes_path = path / "metadata" / "codes.parquet"
    if not codes_path.is_file():
        return EMPTY_DICTIONARY
    table = pl.read_parquet(codes_path)
    if "code" not in table.columns or "description" not in table.columns:
        raise DataError(f"{codes_path} lacks column 'code' or 'description'; found {table.columns}.")
    return table.select(pl.col("code").cast(pl.String), pl.col("description").cast(pl.String)).drop_nulls("code")


def read_meds_splits(path: Path, subjects: pl.Series) -> pl.DataFrame | None:
    """The source's splits (None when it has no split file: new ones are drawn).

    A split file that is present is validated exactly as ``clincode train`` validates it
    (:func:`read_subject_splits`: unknown split names, a subject in two splits, an empty split
    raise DataError naming the file) and must assign every subject with events; an invalid file
    is an error, never silently replaced.
    """
    splits_path = path / "metadata" / "subject_splits.parquet"
    if not splits_path.is_file():
        return None
    splits = read_subject_splits(splits_path)
    wanted = subjects.unique()
    missing = wanted.filter(~wanted.is_in(splits["subject_id"].implode()))
    if missing.len():
        raise DataError(
            f"{splits_path} assigns no split to {missing.len()} subject(s) with events (e.g. subject_id "
            f"{int(missing.sort()[0])}); expected every subject in the file, or remove the file to draw new splits."
        )
    return splits.filter(pl.col("subject_id").is_in(wanted.implode()))
