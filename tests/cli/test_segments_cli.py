"""`clincode segments`: label counts per dataset kind, segment summaries, the command and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from clincode.cli import app
from clincode.segments_cli import dataset_label_counts, segment_rows, segments_report


def test_segment_rows_summaries_match_hand_computed_example() -> None:
    # counts 700, 10, 1, 12, 2, 11, 1: segments {1,1,2}, {10,11,12}, {700}
    rows = segment_rows(np.array([700, 10, 1, 12, 2, 11, 1]), 0.5)
    assert [(r.num_labels, r.freq_min, r.freq_max) for r in rows] == [(3, 1, 2), (3, 10, 12), (1, 700, 700)]
    assert rows[0].std == pytest.approx(np.std([1, 1, 2]))
    assert rows[1].std_over_min == pytest.approx(np.std([10, 11, 12]) / 10)
    rep = segments_report(np.array([700, 10, 1, 12, 2, 11, 1]), 0.5)
    assert rep["num_segments"] == 3 and rep["head_tail_ratio"] == 700.0


def notes_file(tmp_path: Path) -> Path:
    """A canonical notes table: train documents carry E11.9 x4, I10 x2, J45.909 x1; tuning is ignored."""
    train_codes = [
        ["ICD10CM//E11.9", "ICD10CM//I10"],
        ["ICD10CM//E11.9", "ICD10CM//I10", "ICD10CM//J45.909"],
        ["ICD10CM//E11.9"],
        ["ICD10CM//E11.9"],
    ]
    rows = [(f"d{i}", f"s{i}", f"note {i}", c, "train") for i, c in enumerate(train_codes)]
    rows.append(("t0", "s9", "tuning note", ["ICD10CM//J45.909"] * 1, "tuning"))
    frame = pl.DataFrame(rows, schema=["doc_id", "subject_id", "text", "codes", "split"], orient="row")
    path = tmp_path / "notes.parquet"
    frame.write_parquet(path)
    return path


def test_notes_counts_are_training_documents_per_code(tmp_path: Path) -> None:
    counts, codes = dataset_label_counts(notes_file(tmp_path))
    assert codes == ["ICD10CM//E11.9", "ICD10CM//I10", "ICD10CM//J45.909"]
    assert counts.tolist() == [4, 2, 1]


def test_cli_segments_json_and_table(tmp_path: Path) -> None:
    runner = CliRunner()
    path = notes_file(tmp_path)
    res = runner.invoke(app, ["segments", str(path), "--json"], catch_exceptions=False)
    assert res.exit_code == 0
    rep = json.loads(res.output)
    # counts 1, 2, 4 with eta 0.5: {1, 2} has std 0.5 <= 0.5; {1, 2, 4} breaks it; {4}
    assert [s["num_labels"] for s in rep["segments"]] == [2, 1]
    res = runner.invoke(app, ["segments", str(path), "--eta", "100"], catch_exceptions=False)
    assert res.exit_code == 0 and "1 segments of 3 labels" in res.output


def test_cli_segments_on_a_meds_cohort(tiny_cohort: Path) -> None:
    res = CliRunner().invoke(app, ["segments", str(tiny_cohort), "--json", "--num-labels", "50"], catch_exceptions=False)
    assert res.exit_code == 0
    rep = json.loads(res.output)
    assert rep["num_labels"] == 50 and sum(s["num_labels"] for s in rep["segments"]) == 50


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--eta", "0"], "--eta must be > 0"),
        (["--eta", "-1"], "--eta must be > 0"),
    ],
)
def test_cli_segments_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    res = CliRunner().invoke(app, ["segments", str(notes_file(tmp_path)), *args])
    assert res.exit_code == 1 and message in res.output


def test_cli_segments_missing_or_unknown_path(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["segments", str(tmp_path / "nope")])
    assert res.exit_code == 1 and "does not exist" in res.output
    res = CliRunner().invoke(app, ["segments", str(tmp_path)])
    assert res.exit_code == 1 and "neither a MEDS cohort" in res.output
