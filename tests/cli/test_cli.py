"""The command line: every command works on the tiny run; bad input is one sentence and exit 1."""

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from clincode import cli
from clincode.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_list_commands():
    res = invoke("list", "losses")
    assert res.exit_code == 0
    for name in ["bce", "weighted_bce", "class_balanced", "focal", "asymmetric", "sh", "sh_focal", "dependency_aware"]:
        assert name in res.output
    res = invoke("list", "models")
    assert res.exit_code == 0 and "ehr_transformer" in res.output
    res = invoke("list", "configs")
    assert res.exit_code == 0 and "demo.yaml" in res.output


def test_list_runs(tiny_run):
    res = invoke("list", "runs", tiny_run.parent)
    assert res.exit_code == 0 and "tiny" in res.output and "done" in res.output


def test_evaluate_reproduces_metrics(tiny_run):
    before = json.loads((tiny_run / "metrics.json").read_text())
    res = invoke("evaluate", tiny_run, "--bootstrap", "10")
    assert res.exit_code == 0, res.output
    after = json.loads((tiny_run / "metrics.json").read_text())
    assert after["ranking"] == before["ranking"]
    assert after["rules"]["global"]["f1_micro"] == pytest.approx(before["rules"]["global"]["f1_micro"])


def test_predict_writes_forecasts(tiny_run, tiny_cohort, tmp_path):
    out = tmp_path / "pred.parquet"
    res = invoke("predict", tiny_run, "--data", tiny_cohort, "--out", out, "--top-k", "3", "--split", "held_out")
    assert res.exit_code == 0, res.output
    df = pl.read_parquet(out)
    assert set(df.columns) >= {"subject_id", "visit_index", "visit_time", "rank", "code", "description", "probability", "alert"}
    per_visit = df.group_by("subject_id", "visit_index").agg(pl.col("rank").min(), pl.len())
    assert per_visit["rank"].max() == 1 and per_visit["len"].min() >= 3
    splits = pl.read_parquet(tiny_cohort / "metadata" / "subject_splits.parquet")
    held = set(splits.filter(pl.col("split") == "held_out")["subject_id"].to_list())
    assert set(df["subject_id"].unique().to_list()) <= held
    # alerts are exactly the rows at or above the saved global threshold
    th = json.loads((tiny_run / "thresholds.json").read_text())["global_threshold"]
    assert (df["alert"] == (df["probability"] >= th)).all()
    assert not df["description"].str.starts_with("ICD10CM//").all()


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "missing.yaml"], "does not exist"),
        (["evaluate", "no-such-run"], "does not exist"),
        (["predict", "no-such-run", "--data", ".", "--out", "x.txt"], "expected a .parquet, .csv or .jsonl"),
        (["synth", "ehr", "--patients", "0", "--out", "OUT"], "patients"),
    ],
)
def test_bad_input_one_sentence(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, args)
    assert res.exit_code == 1
    assert "error:" in res.output and message in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "OUT").exists()


def test_train_bad_config_and_data(tmp_path, tiny_cohort):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("trainer:\n  max_epoch: 2\n")
    res = runner.invoke(app, ["train", str(cfg)])
    assert res.exit_code == 1 and "unknown key 'trainer.max_epoch'" in res.output
    cfg.write_text(f"out_dir: {tmp_path / 'runs'}\ndata:\n  path: {tmp_path / 'nope'}\n")
    res = runner.invoke(app, ["train", str(cfg)])
    assert res.exit_code == 1 and "does not exist" in res.output
    res = runner.invoke(app, ["train", str(cfg), "--set", f"data.path={tiny_cohort}", "--set", "data.num_labels=100000"])
    assert res.exit_code == 1 and "100000" in res.output
    res = runner.invoke(app, ["train", str(cfg), "--set", f"data.path={tiny_cohort}", "--set", "loss.name=focl", "--set", "data.num_labels=50"])
    assert res.exit_code == 1 and "focal" in res.output
    # failed starts leave no run directory behind
    assert not (tmp_path / "runs" / "run").exists()


@pytest.mark.slow  # reads the real MIMIC-IV demo
def test_prepare_ehr_mimic_iv_demo(tmp_path, shared_data):
    shared = shared_data("mimic-iv-demo-2.2")
    out = tmp_path / "mimic"
    res = runner.invoke(app, ["prepare", "ehr", str(shared), "--out", str(out), "--source", "mimic-iv"])
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "metadata" / "dataset.json").read_text())
    assert meta["source"] == "mimic-iv" and "skipped" in meta["counts"]
    res = runner.invoke(app, ["prepare", "ehr", str(shared), "--out", str(tmp_path / "x"), "--source", "mimic-v"])
    assert res.exit_code == 1 and "mimic-iv" in res.output and not (tmp_path / "x").exists()


def test_choices_match_the_library():
    """The CLI's closed option sets are the library's own (sources, splits, languages, on_error)."""
    from clincode.data.notes import NOTE_SOURCES
    from clincode.data.notes._skips import ON_ERROR_CHOICES
    from clincode.data.notes.codiesp import TEXT_DIRS
    from clincode.data.sources import EHR_SOURCES
    from clincode.data.splits import SPLIT_NAMES

    assert {c.value for c in cli.EhrSource} == set(EHR_SOURCES.names())
    assert {c.value for c in cli.NotesSource} == set(NOTE_SOURCES.names())
    assert [c.value for c in cli.Split] == list(SPLIT_NAMES)
    assert {c.value for c in cli.Language} == set(TEXT_DIRS)
    assert {c.value for c in cli.OnError} == set(ON_ERROR_CHOICES)


@pytest.mark.parametrize(
    "command, option, listed",
    [
        (["prepare", "ehr"], "--source", "<meds|mimic-iii|mimic-iv>"),
        (["prepare", "notes"], "--source", "<codiesp|mimic-iii|mimic-iv-note>"),
        (["prepare", "notes"], "--code-types", "<D|P|D,P>"),
        (["prepare", "notes"], "--on-error", "<raise|skip>"),
        (["evaluate"], "--split", "<held_out|tuning>"),
        (["predict"], "--rule", "<global|per_label|0.5>"),
        (["predict"], "--format", "<table|codiesp|codiesp-x>"),
        (["segments"], "--language", "<en|es>"),
        (["segments"], "--code-types", "<D|P|D,P>"),
        (["demo"], "--num-labels", "[default: 1538]"),
    ],
)
def test_help_lists_choices(command, option, listed):
    res = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    line = next(x for x in res.output.splitlines() if option in x)
    assert listed in line


def test_choice_parsing():
    assert cli.EhrSource.parse("MIMIC-IV", "--source") is cli.EhrSource.MIMIC_IV
    assert cli.Rule.parse(" Per_Label ", "--rule") is cli.Rule.PER_LABEL
    with pytest.raises(ValueError, match="--rule must be one of global, per_label, 0.5; got 'best'"):
        cli.Rule.parse("best", "--rule")
    assert cli.parse_code_types("D,P") == ("D", "P")
    assert cli.parse_code_types("p, d") == ("D", "P")
    assert cli.parse_code_types("d") == ("D",)
    assert cli.parse_code_types("DP") == ("D", "P")
    for bad in ["", "D,X", "D,D", "D,,P"]:
        with pytest.raises(ValueError, match="--code-types must be D, P or D,P"):
            cli.parse_code_types(bad)


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "RUN", "--split", "train"], "--split must be one of held_out, tuning; got 'train'"),
        (["predict", "RUN", "--data", ".", "--out", "x.parquet", "--rule", "best"], "--rule must be one of global, per_label, 0.5"),
        (["predict", "RUN", "--data", ".", "--out", "x.parquet", "--format", "tsv"], "--format must be one of table, codiesp, codiesp-x"),
        (["predict", "RUN", "--data", ".", "--out", "x.parquet", "--split", "test"], "--split must be one of train, tuning, held_out"),
        (["segments", ".", "--code-types", "X"], "--code-types must be D, P or D,P"),
        (["segments", ".", "--language", "fr"], "--language must be one of en, es"),
        (["prepare", "notes", ".", "--out", "OUT", "--source", "codiesp", "--code-types", "D;P"], "--code-types must be D, P or D,P"),
        (["prepare", "notes", ".", "--out", "OUT", "--on-error", "ignore"], "--on-error must be one of raise, skip"),
        (["prepare", "notes", ".", "--out", "OUT", "--icd-version", "11"], "--icd-version must be one of 9, 10"),
    ],
)
def test_bad_choice_one_sentence(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    assert "error:" in res.output and message in res.output
    assert not (tmp_path / "OUT").exists()
