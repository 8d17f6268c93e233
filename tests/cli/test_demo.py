"""`clincode demo`: synthetic cohort, one run per loss, results table and report, bad input."""

from typer.testing import CliRunner

from clincode.cli import app

runner = CliRunner()


def test_demo_quick_run(tmp_path):
    """`clincode demo` end to end on a tiny cohort: cohort, one run per loss, table, report."""
    res = runner.invoke(
        app,
        ["demo", "--out", str(tmp_path / "d"), "--patients", "300", "--epochs", "1", "--losses", "bce,dependency_aware", "--num-labels", "40"],
    )
    assert res.exit_code == 0, res.output
    bench = next((tmp_path / "d").glob("demo-*"))
    assert (bench / "report.md").is_file() and (bench / "results.parquet").is_file()
    runs = sorted(p.name for p in (bench / "runs").iterdir() if not p.name.startswith("."))
    refs = ["baseline=group_table", "baseline=history_bayes", "baseline=oracle", "baseline=prevalence", "baseline=repeat_table", "baseline=tifu_knn"]
    assert runs == refs + ["name=bce__seed=0", "name=dependency_aware__seed=0"]
    assert bench.name == "demo-e1-s0-clinical"  # the default cohort has disease progression
    # the table (stdout) holds the losses, the baselines and the oracle, with the repeat / explore columns
    for word in ("repeat_table", "tifu_knn", "history_bayes", "oracle", "dependency_aware", "AUPRC rep", "AUPRC exp"):
        assert word in res.stdout, word
    res = runner.invoke(app, ["demo", "--out", str(tmp_path / "d"), "--losses", "focl"])
    assert res.exit_code == 1 and "focal" in res.output
    res = runner.invoke(app, ["demo", "--out", str(tmp_path / "d"), "--losses", "focl", "--labels", "40"])  # alias
    assert res.exit_code == 1 and "focal" in res.output


def test_demo_with_the_earlier_config_gets_its_own_runs(tmp_path):
    """`--config demo_behrt` runs the earlier (one token per code) setting beside the default runs."""
    import yaml

    args = ["demo", "--out", str(tmp_path / "d"), "--patients", "300", "--epochs", "1", "--losses", "bce", "--num-labels", "40"]
    assert runner.invoke(app, args).exit_code == 0
    res = runner.invoke(app, [*args, "--config", "demo_behrt"])
    assert res.exit_code == 0, res.output
    benches = sorted(p.name for p in (tmp_path / "d").glob("demo-*"))
    assert benches == ["demo-e1-s0-clinical", "demo-e1-s0-clinical-demo_behrt"]
    for name, tokens in (("demo-e1-s0-clinical", "visit"), ("demo-e1-s0-clinical-demo_behrt", "code")):
        cfg = yaml.safe_load((tmp_path / "d" / name / "runs" / "name=bce__seed=0" / "config.yaml").read_text())
        assert cfg["model"]["params"]["tokens"] == tokens
