"""The coding path on the real CodiEsp release (../shared/data/codiesp; skipped when it is absent): tiny
CNN, two batches, and the CodiEsp ranking export scored by TREC MAP.
"""

import csv
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from clincode.cli import app
from clincode.config import load_config
from clincode.resources import config_path
from clincode.tasks.coding.task import prepare_coding
from clincode.train.fit import train_run


def gold(codiesp: Path, split: str) -> dict[str, set[str]]:
    """Reference: the D TSV read with the csv module; codes compared without case and dots."""
    out: dict[str, set[str]] = {}
    with open(codiesp / split / f"{split}D.tsv", encoding="utf-8", newline="") as handle:
        for doc_id, code in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            out.setdefault(doc_id, set()).add(code.upper().replace(".", ""))
    return out


@pytest.mark.slow  # reads the real release
def test_tiny_cnn_on_real_codiesp(tmp_path, shared_data):
    codiesp = shared_data("codiesp")
    cfg = load_config(
        config_path("codiesp_cnn"),
        [f"data.path={codiesp}", f"out_dir={tmp_path}", "name=real", "data.text.embed_dim=8", "data.text.w2v_epochs=1",
         "model.params={embed_dim: 8, num_filters: 8}", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
         "trainer.progress=false", "trainer.eval_batch_size=250", "eval.n_bootstrap=0"],
    )
    run = train_run(cfg, console=Console(quiet=True))
    data = prepare_coding(cfg, console=Console(quiet=True))
    train_gold, test_gold = gold(codiesp, "train"), gold(codiesp, "test")
    train_codes = set().union(*train_gold.values())
    assert data.report["documents"] == {"train": 500, "tuning": 250, "held_out": 250}
    assert data.num_labels == len(train_codes) == 1767  # the README's count of distinct train D codes
    assert {c.split("//")[1].replace(".", "") for c in data.label_space.codes_} == train_codes
    unseen = sum(len(codes - train_codes) for codes in test_gold.values())
    assert data.report["unseen_codes"]["held_out"]["occurrences"] == unseen > 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["n_rows"] == 250 and m["n_labels"] == 1767
    assert m["coding"]["gold_codes"] == sum(len(c) for c in test_gold.values())
    assert 0.0 <= m["coding"]["map_all_gold"] <= m["map"] <= 1.0
    assert 0.0 <= m["ranking"]["auroc_micro"] <= 1.0

    # `clincode predict --format codiesp`: the full ranking scored by the CodiEsp-style TREC MAP
    # (submission module) equals the run's own MAP over all gold codes.
    from clincode.tasks.coding.submission import read_codiesp_ranking, trec_map

    out = tmp_path / "test_ranking.tsv"
    result = CliRunner().invoke(
        app, ["predict", str(run), "--data", str(codiesp), "--out", str(out), "--format", "codiesp", "--split", "held_out", "--top-k", "5000"]
    )
    assert result.exit_code == 0, result.output
    ranking = read_codiesp_ranking(out)
    assert len(ranking) == 250 and all(len(codes) == 1767 for codes in ranking.values())
    official = trec_map(ranking, read_codiesp_ranking(codiesp / "test" / "testD.tsv"))
    assert official == pytest.approx(m["coding"]["map_all_gold"], rel=1e-9)
