"""Benchmark grid: expansion, resumable runs, tidy results, seed summary, report, audit; a grid over
the text models on a tiny notes table.
"""

import json

import polars as pl
import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from clincode.bench.grid import expand, load_benchmark
from clincode.bench.runner import run_benchmark
from clincode.bench.summary import summarise, summary_table
from clincode.cli import app
from clincode.config import ConfigError
from clincode.resources import config_path
from helpers.coding_notes import write_notes


def write_bench(tmp_path, cohort, grid, name="b"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "out_dir": str(tmp_path / "out"),
                "base": str(config_path("demo")),
                "set": [
                    f"data.path={cohort}",
                    "data.num_labels=40",
                    "model.params={d_model: 16, n_heads: 2, n_layers: 1, dim_feedforward: 32}",
                    "trainer.max_epochs=1",
                    "trainer.progress=false",
                    "eval.n_bootstrap=5",
                ],
                "grid": grid,
            }
        )
    )
    return path


def test_grid_expansion_names_and_axes(tmp_path, tiny_cohort):
    path = write_bench(tmp_path, tiny_cohort, {"loss.name": ["bce", "focal"], "loss.params.gamma": [1.0, 2.0], "seed": [0, 1]})
    runs = expand(load_benchmark(path))
    grid = [r for r in runs if r.config.model.name == "ehr_transformer"]
    assert len(grid) == 8 and len({r.name for r in runs}) == len(runs) == 14
    # the reference rows: every history baseline and, on a synthetic cohort, history_bayes and the oracle; once, first seed
    refs = {r.axes["model.name"]: r for r in runs if r not in grid}
    assert set(refs) == {"prevalence", "repeat_table", "group_table", "tifu_knn", "history_bayes", "oracle"}
    assert all(r.config.seed == 0 and r.axes["loss.name"] == "-" and r.config.model.params == {} for r in refs.values())
    assert all(r.axes["model.name"] == "ehr_transformer" for r in grid)
    only = load_benchmark(path)
    only.baselines = ["repeat_table"]
    assert [r.config.model.name for r in expand(only)].count("repeat_table") == 1 and len(expand(only)) == 9
    only.baselines = []
    assert len(expand(only)) == 8
    only.baselines = ["nope"]
    with pytest.raises(KeyError, match="unknown forecaster"):
        expand(only)
    focal = [r for r in runs if r.axes["loss.name"] == "focal" and r.axes["loss.params.gamma"] == 2.0 and r.axes["seed"] == 1]
    assert focal[0].config.loss.params == {"gamma": 2.0} and focal[0].config.seed == 1
    assert focal[0].config.trainer.max_epochs == 1


def test_set_name_and_out_dir_move_the_benchmark(tmp_path, tiny_cohort):
    """--set out_dir / name address the benchmark itself (a run's own would be overwritten by the grid)."""
    path = write_bench(tmp_path, tiny_cohort, {"loss.name": ["bce"]})
    bench = load_benchmark(path, ["out_dir=" + str(tmp_path / "elsewhere"), "name=big", "trainer.max_epochs=2"])
    assert bench.out_dir == tmp_path / "elsewhere" and bench.name == "big"
    run, *refs = expand(bench)
    assert all(r.config.out_dir == tmp_path / "elsewhere" / "big" / "runs" for r in refs)
    assert run.config.out_dir == tmp_path / "elsewhere" / "big" / "runs"
    assert run.config.trainer.max_epochs == 2
    with pytest.raises(ConfigError, match="out_dir needs a value"):
        load_benchmark(path, ["out_dir="])


def test_bad_benchmark_config(tmp_path, tiny_cohort):
    path = write_bench(tmp_path, tiny_cohort, {"loss.name": []})
    with pytest.raises(ConfigError, match="non-empty list"):
        load_benchmark(path)
    path = write_bench(tmp_path, tiny_cohort, {"trainer.max_epoch": [1]})
    with pytest.raises(ConfigError, match="trainer.max_epoch"):
        expand(load_benchmark(path))


def test_benchmark_end_to_end_resumable(tmp_path, tiny_cohort):
    path = write_bench(tmp_path, tiny_cohort, {"loss.name": ["bce", "dependency_aware"], "seed": [0, 1]})
    bench = load_benchmark(path)
    root = run_benchmark(bench, console=Console(quiet=True))
    results = pl.read_parquet(root / "results.parquet")
    assert set(results["loss.name"].unique()) == {"bce", "dependency_aware", "-"}
    assert results.filter(pl.col("metric") == "ranking.auprc_micro").height == 4 + 6  # + the reference rows
    refs = results.filter((pl.col("model.name") != "ehr_transformer") & (pl.col("metric") == "ranking.auprc_micro"))
    assert set(refs["model.name"]) == {"prevalence", "repeat_table", "group_table", "tifu_knn", "history_bayes", "oracle"}
    assert "repeat_table" in (root / "summary.md").read_text() and "AUPRC repeat" in (root / "summary.md").read_text()
    # summary = mean and std over the two seeds, checked against the tidy rows
    summary = json.loads((root / "summary.json").read_text())
    row = next(r for r in summary if r["loss.name"] == "bce" and r["metric"] == "ranking.auprc_micro")
    vals = results.filter((pl.col("loss.name") == "bce") & (pl.col("metric") == "ranking.auprc_micro"))["value"]
    assert row["mean"] == pytest.approx(vals.mean()) and row["std"] == pytest.approx(vals.std()) and row["n_seeds"] == 2
    assert "dependency_aware" in (root / "summary.md").read_text()
    # resumable: a second call trains nothing (run files untouched)
    ckpt = next((root / "runs").glob("*/model.ckpt"))
    before = ckpt.stat().st_mtime_ns
    run_benchmark(bench, console=Console(quiet=True))
    assert ckpt.stat().st_mtime_ns == before

    # report and audit through the CLI
    runner = CliRunner()
    res = runner.invoke(app, ["report", str(root)])
    assert res.exit_code == 0, res.output
    report = (root / "report.md").read_text()
    for fig in ["pr_curves.png", "alerts_vs_recall.png", "buckets_auprc.png", "balance.png"]:
        assert (root / "figures" / fig).stat().st_size > 1000 and fig in report
    dep_run = next(p for p in (root / "runs").iterdir() if "dependency_aware" in p.name)
    res = runner.invoke(app, ["audit", str(dep_run), "--top-pairs", "5", "--heatmap-codes", "20"])
    assert res.exit_code == 0, res.output
    audit = json.loads((dep_run / "audit" / "audit.json").read_text())
    assert -1 <= audit["w_vs_training_pmi"]["spearman"] <= 1
    rec = audit["true_structure_recovery"]
    assert rec["true_pairs"] > 0 and 0 <= rec["auroc_abs_w"] <= 1
    pairs = pl.read_parquet(dep_run / "audit" / "pairs.parquet")
    assert pairs.height == 10 and (pairs.filter(pl.col("sign") == "positive")["weight"] >= pairs.filter(pl.col("sign") == "negative")["weight"].max()).all()
    bce_run = next(p for p in (root / "runs").iterdir() if "bce" in p.name)
    res = runner.invoke(app, ["audit", str(bce_run)])
    assert res.exit_code == 1 and "no dependency matrix" in res.output


def test_summary_table_single_seed_shows_ci():
    results = pl.DataFrame(
        {"loss.name": ["a", "a"], "seed": ["0", "0"], "run": ["r", "r"], "metric": ["ranking.auprc_micro", "at_k.p@5"],
         "value": [0.5, 0.3], "ci_low": [0.4, 0.2], "ci_high": [0.6, 0.4]}
    )
    table = summary_table(summarise(results, ["loss.name", "seed"]), ["loss.name", "seed"])
    assert "0.5000 [0.400, 0.600]" in table and "0.3000 [0.200, 0.400]" in table


def test_benchmark_grid_over_text_models(tmp_path):
    notes = write_notes(tmp_path / "notes")
    sets = [f"data.path={notes}", "data.text.min_df=2", "data.text.embed_dim=8", "data.text.w2v_epochs=1",
            "model.params={embed_dim: 8}", "trainer.max_epochs=1", "trainer.progress=false", "eval.n_bootstrap=0"]
    bench = load_benchmark(config_path("benchmark_codiesp"), sets)
    bench.grid = {"model.name": ["cnn", "caml"], "seed": [0]}
    bench.out_dir = tmp_path
    root = run_benchmark(bench, console=Console(quiet=True))
    results = pl.read_parquet(root / "results.parquet")
    assert sorted(results["model.name"].unique().to_list()) == ["caml", "cnn"]
    assert results.filter(pl.col("metric") == "coding.map_all_gold").height == 2
