"""CodiEsp-X output: `clincode predict --format codiesp-x` of a coder run, the table's spans column, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from rich.console import Console

from clincode.coders import Span
from clincode.config import load_config
from clincode.metrics.codiesp_x import codiesp_x_by_type, read_x_gold, read_x_predictions
from clincode.resources import config_path
from clincode.tasks.coding.submission import codiesp_x_rows, write_codiesp_x
from clincode.train.fit import train_run
from clincode.train.predict import predict_to_file
from helpers.codiesp_release import PHRASES, write_release

QUIET = Console(quiet=True)


@pytest.fixture(scope="module")
def coder_run(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("x")
    release = write_release(root / "codiesp")
    cfg = load_config(
        config_path("codiesp_dictionary"),
        [f"data.path={release}", f"out_dir={root / 'runs'}", "eval.n_bootstrap=0", "trainer.progress=false",
         "data.text.code_types=[D,P]", "model.params.extend_labels=false", "model.params.keys_from=evidence"],
    )
    return train_run(cfg, console=QUIET), release


def test_predict_codiesp_x_writes_references_the_official_rule_accepts(coder_run, tmp_path):
    run, release = coder_run
    out = tmp_path / "x.tsv"
    n = predict_to_file(run, release, out, split="held_out", fmt="codiesp-x", top_k=5, console=QUIET)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert n == len(lines) > 0
    texts = {p.stem: p.read_text(encoding="utf-8") for p in (release / "test" / "text_files").glob("*.txt")}
    for line in lines:
        doc, position, label, code = line.split("\t")
        start, end = map(int, position.split())
        kind, phrase = PHRASES[code]
        assert label == kind and texts[doc][start:end].lower() == phrase  # the reference is the phrase itself
    scores = codiesp_x_by_type(read_x_gold(release / "test" / "testX.tsv"), read_x_predictions(out))
    assert scores["all"].f1 == pytest.approx(1.0)
    assert scores["D"].gold > 0 and scores["P"].gold > 0 and scores["P"].recall == pytest.approx(1.0)


def test_table_output_carries_the_spans(coder_run, tmp_path):
    run, release = coder_run
    out = tmp_path / "pred.parquet"
    predict_to_file(run, release, out, split="held_out", top_k=3, console=QUIET)
    table = pl.read_parquet(out)
    assert table.schema["spans"] == pl.List(pl.Struct({"start": pl.Int64, "end": pl.Int64, "text": pl.String}))
    texts = {p.stem: p.read_text(encoding="utf-8") for p in (release / "test" / "text_files").glob("*.txt")}
    with_spans = table.filter(pl.col("spans").list.len() > 0)
    assert with_spans.height >= table["doc_id"].n_unique()
    for row in with_spans.iter_rows(named=True):
        for span in row["spans"]:
            assert texts[row["doc_id"]][span["start"]:span["end"]] == span["text"]
    csv = tmp_path / "pred.csv"
    predict_to_file(run, release, csv, split="held_out", top_k=3, console=QUIET)
    parsed = [json.loads(v) for v in pl.read_csv(csv)["spans"].to_list()]
    assert parsed == table["spans"].to_list()


def test_codiesp_x_rows_apply_top_k_threshold_and_spans_per_code(tmp_path):
    labels = ["ICD10CM//R50.9", "ICD10PCS//BW03ZZZ", "ICD10CM//I10"]
    probs = np.array([[0.9, 0.8, 0.7]])
    evidence = [{0: [Span(5, 9, "a"), Span(20, 30, "b")], 1: [Span(1, 2, "c")]}]  # I10: no evidence
    rows = codiesp_x_rows(["d"], probs, labels, evidence, np.array([0.5, 0.5, 0.5]))
    assert rows == [("d", 5, 9, "DIAGNOSTICO", "r50.9"), ("d", 20, 30, "DIAGNOSTICO", "r50.9"),
                    ("d", 1, 2, "PROCEDIMIENTO", "bw03zzz")]
    assert codiesp_x_rows(["d"], probs, labels, evidence, np.array([0.5, 0.85, 0.5])) == rows[:2]
    assert codiesp_x_rows(["d"], probs, labels, evidence, 0.0, top_k=1, spans_per_code=1) == rows[:1]
    write_codiesp_x(tmp_path / "x.tsv", rows)
    assert (tmp_path / "x.tsv").read_text(encoding="utf-8").splitlines()[2] == "d\t1 2\tPROCEDIMIENTO\tbw03zzz"
    with pytest.raises(ValueError, match="must cover 2 documents"):
        codiesp_x_rows(["d", "e"], probs, labels, evidence, 0.5)
    with pytest.raises(ValueError, match="spans_per_code"):
        codiesp_x_rows(["d"], probs, labels, evidence, 0.5, spans_per_code=0)


def test_codiesp_x_needs_thresholds(coder_run, tmp_path):
    from clincode.tasks.coding.task import CodingTask

    with pytest.raises(ValueError, match="needs evidence spans"):
        CodingTask._write_codiesp_x(tmp_path / "x.tsv", ["d"], [_preds(evidence=None)], ["ICD10CM//R50.9"], 5)
    with pytest.raises(ValueError, match="run `clincode evaluate RUN_DIR` first"):
        CodingTask._write_codiesp_x(tmp_path / "x.tsv", ["d"], [_preds(evidence=[{}])], ["ICD10CM//R50.9"], 5)


def _preds(evidence):
    from clincode.tasks import Predictions

    z = np.zeros(1, dtype=np.int64)
    return Predictions(np.ones((1, 1), np.float32), np.zeros((1, 1), np.int8), z, z, z, doc_index=z, evidence=evidence)
