"""Reading MEDS shards: event times of any temporal dtype become UTC epoch microseconds."""

from __future__ import annotations

import datetime as dt

import polars as pl

from clincode.data.meds import scan_events

D = dt.datetime


def test_scan_events_normalises_time_dtypes(tmp_path):
    a = tmp_path / "a.parquet"
    b = tmp_path / "b.parquet"
    pl.DataFrame({"subject_id": [1, 1], "time": [dt.date(2000, 1, 2), None], "code": ["X", "GENDER//F"]}).write_parquet(a)
    pl.DataFrame(
        {"subject_id": pl.Series([2], dtype=pl.UInt32), "time": [D(2000, 1, 2, 5)], "code": ["Y"]}
    ).with_columns(pl.col("time").dt.replace_time_zone("Europe/Berlin")).write_parquet(b)
    got = scan_events([a, b]).collect()
    assert got.schema == pl.Schema({"subject_id": pl.Int64, "t_us": pl.Int64, "code": pl.String})
    day = 946771200  # 2000-01-02 00:00 UTC in epoch seconds
    # Midnight for a Date; an aware 05:00 Berlin time is 04:00 UTC.
    assert got["t_us"].to_list() == [day * 10**6, None, (day + 4 * 3600) * 10**6]
