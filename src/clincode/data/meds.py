"""Read MEDS event shards lazily with normalised dtypes, and group events into visits.

Everything here works on one *unit* of shards at a time: a set of shards whose subjects appear
in no other shard (MEDS exports shard by subject, so normally one unit per shard). Processing
unit by unit keeps memory bounded by the largest unit, which is what lets task building scale to
millions of patients.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

US_PER_SECOND = 1_000_000


def scan_events(shards: Sequence[Path]) -> pl.LazyFrame:
    """Lazy events of ``shards`` with one schema whatever the shards' own dtypes.

    Returns:
        LazyFrame (subject_id Int64, t_us Int64 epoch microseconds, null for static events,
        code String). ``t_us`` sidesteps time units and zones: an aware timestamp is taken as UTC.
    """
    frames = []
    for shard in shards:
        lf = pl.scan_parquet(shard)
        time = pl.col("time")
        if lf.collect_schema()["time"] == pl.Date:
            time = time.cast(pl.Datetime("us"))
        frames.append(
            lf.select(
                pl.col("subject_id").cast(pl.Int64),
                time.dt.epoch("us").cast(pl.Int64).alias("t_us"),
                pl.col("code").cast(pl.String),
            )
        )
    return pl.concat(frames, how="vertical")


def shard_units(shards: Sequence[Path]) -> list[list[Path]]:
    """Group shards so that every subject's events fall in exactly one group.

    Shards sharing a subject are merged (union-find); with the usual MEDS layout every shard is its
    own unit. Reads only the ``subject_id`` column.
    """
    if len(shards) <= 1:
        return [list(shards)]
    owners = pl.concat(
        [
            pl.scan_parquet(s).select(pl.col("subject_id").cast(pl.Int64)).unique().with_columns(pl.lit(i).alias("shard"))
            for i, s in enumerate(shards)
        ]
    ).collect()
    parent = list(range(len(shards)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    shared = owners.group_by("subject_id").agg(pl.col("shard").unique()).filter(pl.col("shard").list.len() > 1)
    for group in shared["shard"].unique().to_list():  # distinct shard-sets, few
        root = find(group[0])
        for other in group[1:]:
            parent[find(other)] = root
    units: dict[int, list[Path]] = {}
    for i, shard in enumerate(shards):
        units.setdefault(find(i), []).append(shard)
    return list(units.values())


def anchored_visit_starts(subject: np.ndarray, t_us: np.ndarray, window_us: int) -> np.ndarray:
    """Start time of the visit each event time belongs to, with visits anchored at their first event.

    A new visit starts when an event is more than ``window_us`` after the current visit's first
    event (not after the previous event: chaining would let one visit grow without bound).

    Args:
        subject: (N,) int64 subject ids, sorted; rows of one subject contiguous.
        t_us: (N,) int64 distinct event times per subject, ascending within a subject.
        window_us: visit window in microseconds, >= 0.

    Returns:
        (N,) int64 visit start time of each row.
    """
    n = len(t_us)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # Rows that surely start a visit: a subject's first row, or a gap from the previous event time
    # larger than the window (the anchor is never later than the previous time). Between two such
    # rows the rule is sequential, but a run whose whole span fits the window is one visit; only
    # runs spanning more than the window need the Python loop below.
    sure = np.ones(n, dtype=bool)
    sure[1:] = (subject[1:] != subject[:-1]) | (t_us[1:] - t_us[:-1] > window_us)
    run_first = np.maximum.accumulate(np.where(sure, np.arange(n), 0))  # (N,) index of the run's first row
    starts = t_us[run_first].copy()
    too_long = (t_us - starts) > window_us
    if not too_long.any():
        return starts
    runs = np.unique(run_first[too_long])
    run_end = np.append(np.flatnonzero(sure)[1:], n)  # exclusive end of every run, in run order
    ends = run_end[np.searchsorted(np.flatnonzero(sure), runs)]
    for lo, hi in zip(runs.tolist(), ends.tolist(), strict=True):
        anchor = int(t_us[lo])
        for i in range(lo, hi):
            t = int(t_us[i])
            if t - anchor > window_us:
                anchor = t
            starts[i] = anchor
    return starts


def assign_visits(times: pl.DataFrame, window_us: int | None) -> pl.DataFrame:
    """Number the visits of each subject from its distinct event times.

    Args:
        times: (subject_id, t_us) distinct rows, any order.
        window_us: None groups events with the same timestamp; otherwise see
            :func:`anchored_visit_starts`.

    Returns:
        DataFrame (subject_id, t_us, visit_idx Int32 0-based in time order, visit_time_us Int64 =
        last event time of the visit, i.e. the prediction time), sorted by subject_id, t_us.
    """
    times = times.sort("subject_id", "t_us")
    if window_us is None:
        start = pl.col("t_us")
    else:
        starts = anchored_visit_starts(times["subject_id"].to_numpy(), times["t_us"].to_numpy(), window_us)
        times = times.with_columns(pl.Series("visit_start", starts))
        start = pl.col("visit_start")
    return times.with_columns(
        (start.rank("dense").over("subject_id") - 1).cast(pl.Int32).alias("visit_idx")
    ).with_columns(pl.col("t_us").max().over("subject_id", "visit_idx").alias("visit_time_us")).select(
        "subject_id", "t_us", "visit_idx", "visit_time_us"
    )
