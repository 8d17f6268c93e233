"""Forecast rows of `clincode predict`: the top k labels per row, ranked, with their alert decision."""

import numpy as np

from clincode.train.predict import forecast_rows


def test_forecast_rows_reference():
    probs = np.array([[0.1, 0.9, 0.5, 0.7], [0.2, 0.1, 0.3, 0.05]])
    rows, labels, rank = forecast_rows(probs, thresholds=np.array([0.6, 0.6, 0.6, 0.15]), top_k=2)
    got = list(zip(rows.tolist(), labels.tolist(), rank.tolist(), strict=True))
    # row 0: top-2 = labels 1, 3 (also above 0.6); row 1: top-2 = labels 2, 0; label 3 (0.05) not >= 0.15
    assert got == [(0, 1, 1), (0, 3, 2), (1, 2, 1), (1, 0, 2)]


def test_predict_reports_and_limits_inputs_outside_the_vocabulary(tiny_run, tiny_cohort, tmp_path):
    """Data coded unlike the training data (every code unknown to the run) is refused, with the share."""
    import shutil

    import polars as pl
    import pytest
    from rich.console import Console

    from clincode.train.predict import predict_to_file

    other = tmp_path / "other"
    shutil.copytree(tiny_cohort, other)
    for shard in (other / "data").glob("*.parquet"):
        frame = pl.read_parquet(shard)
        frame.with_columns(pl.when(pl.col("code").str.starts_with("MEDS_")).then(pl.col("code")).otherwise("LOCAL//" + pl.col("code")).alias("code")).write_parquet(shard)
    out = tmp_path / "pred.csv"
    with pytest.raises(ValueError, match=r"of the input tokens of .* are outside the vocabulary.*--max-unknown 1"):
        predict_to_file(tiny_run, other, out, console=Console(quiet=True))
    assert not out.exists()
    assert predict_to_file(tiny_run, other, out, console=Console(quiet=True), max_unknown=1.0) > 0
    with pytest.raises(ValueError, match="--max-unknown must be in"):
        predict_to_file(tiny_run, tiny_cohort, out, console=Console(quiet=True), max_unknown=2.0)
