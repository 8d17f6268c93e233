"""The Python API named in ``clincode/__init__.py``: the README's "Python API" code, run as written,
and each function on its own (results, errors for unknown names).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from rich.console import Console

import clincode
from clincode.resources import config_dir

ROOT = Path(__file__).resolve().parents[1]
API = ("Run", "build_loss", "fit_forecaster", "load_histories", "load_run")


def readme_api_blocks() -> list[tuple[str, str]]:
    """(language, code) of every fenced block of the README's "Python API" section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.DOTALL)


def shell_commands(code: str) -> list[list[str]]:
    """The commands of a bash block, line continuations joined, split as a shell would."""
    return [shlex.split(line) for line in code.replace("\\\n", " ").splitlines() if line.strip()]


# ------------------------------------------------------------------------------ the README, as written
def test_readme_python_api_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from clincode.cli import app

    blocks = readme_api_blocks()
    assert [lang for lang, _ in blocks] == ["python", "bash", "python"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(config_dir(), target_is_directory=True)  # as in the repository root
    namespace: dict[str, object] = {}
    runner = CliRunner()
    for lang, code in blocks:
        if lang == "bash":
            for words in shell_commands(code):
                assert words[0] == "clincode"
                result = runner.invoke(app, words[1:])
                assert result.exit_code == 0, result.output
        else:
            exec(compile(code, "README.md", "exec"), namespace)  # the README's own code is under test

    # The loss block: a scalar whose gradient reaches the logits.
    value, logits = namespace["value"], namespace["logits"]
    assert isinstance(value, torch.Tensor) and value.ndim == 0 and torch.isfinite(value)
    assert logits.grad is not None and logits.grad.shape == (8, 4)
    # The forecaster block: one probability per held-out row and label, beside 0/1 targets.
    histories, probs, targets = namespace["histories"], namespace["probs"], namespace["targets"]
    assert set(histories) == {"train", "tuning", "held_out"}
    assert probs.shape == targets.shape == (len(histories["held_out"]), 50)
    assert ((probs >= 0) & (probs <= 1)).all() and set(np.unique(targets)) <= {0, 1}
    # The run block: clincode predict's table for the held-out patients only, top 5 per visit at least.
    table = namespace["table"]
    assert isinstance(table, pl.DataFrame) and table.height > 0
    assert table.columns[:4] == ["subject_id", "split", "visit_index", "visit_time"]
    assert set(table["split"]) == {"held_out"}
    assert table.group_by("subject_id", "visit_index").agg(pl.col("rank").min())["rank"].to_list() == [1] * table.select(
        "subject_id", "visit_index"
    ).n_unique()
    assert set(table["code"]) <= set(namespace["run"].label_codes)


# ------------------------------------------------------------------------------------ import clincode
def test_import_clincode_is_light_and_names_the_api() -> None:
    code = (
        "import sys, clincode\n"
        "assert 'torch' not in sys.modules, 'import clincode imported torch'\n"
        "assert {'Run', 'build_loss', 'fit_forecaster', 'load_histories', 'load_run'} <= set(dir(clincode))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def test_api_names_have_docstrings() -> None:
    assert set(API) <= set(clincode.__all__)
    for name in API:
        assert (getattr(clincode, name).__doc__ or "").strip(), name
    assert (clincode.Run.predict.__doc__ or "").strip()
    with pytest.raises(AttributeError, match="no attribute 'load_model'"):
        clincode.load_model  # noqa: B018


# ------------------------------------------------------------------------------------------ build_loss
def test_build_loss_matches_the_registry_and_torch() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.5, -2.0]])
    targets = torch.tensor([[1, 0, -1], [0, 1, 1]])
    loss = clincode.build_loss("bce", num_labels=3)
    keep = targets != -1
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[keep], targets[keep].float())
    torch.testing.assert_close(loss(logits, targets), expected)
    from clincode.losses import LOSSES

    focal = clincode.build_loss("focal", num_labels=3, gamma=1.0)
    assert type(focal) is LOSSES.get("focal") and focal.num_labels == 3


def test_build_loss_refuses_unknown_names_and_params() -> None:
    with pytest.raises(KeyError, match="unknown loss 'focall'.*Did you mean 'focal'"):
        clincode.build_loss("focall", num_labels=3)
    with pytest.raises(TypeError, match="unknown parameter.*gama.*accepted: gamma"):
        clincode.build_loss("focal", num_labels=3, gama=2.0)


# --------------------------------------------------------------------- load_histories, fit_forecaster
@pytest.fixture(scope="module")
def histories(tiny_cohort: Path) -> dict:
    return clincode.load_histories(tiny_cohort, num_labels=40)


def test_load_histories_splits_rows_and_labels(tiny_cohort: Path, histories: dict) -> None:
    assert set(histories) == {"train", "tuning", "held_out"}
    splits = pl.read_parquet(tiny_cohort / "metadata" / "subject_splits.parquet")
    split_of = dict(splits.iter_rows())
    for name, h in histories.items():
        assert h.num_labels == len(h.label_codes) == 40
        assert {split_of[int(s)] for s in h.subject_id} == {name}
        # keep="targets": every visit but each patient's last.
        assert len(h) == int(np.diff(h.visit_offsets).sum()) - h.n_patients
        assert h.target_matrix().shape == (len(h), 40)
    assert histories["train"].label_codes == histories["held_out"].label_codes  # one label space, fitted on train
    every = clincode.load_histories(tiny_cohort, num_labels=40, keep="visits")
    assert len(every["held_out"]) == len(histories["held_out"]) + histories["held_out"].n_patients


def test_load_histories_refuses_a_directory_that_is_not_meds(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="subject_splits|MEDS|data"):
        clincode.load_histories(tmp_path)


def test_fit_forecaster_equals_the_registered_class(histories: dict) -> None:
    from clincode.forecasters import FORECASTERS

    train, tuning, held_out = histories["train"], histories["tuning"], histories["held_out"]
    for name in ("prevalence", "repeat_table", "tifu_knn"):
        fitted = clincode.fit_forecaster(name, train, tuning)
        direct = FORECASTERS.get(name)().fit(train, tuning)
        np.testing.assert_array_equal(fitted.predict_proba(held_out), direct.predict_proba(held_out))
    prevalence = clincode.fit_forecaster("prevalence", train).predict_proba(held_out)
    rows = train.target_matrix()
    np.testing.assert_allclose(prevalence[0], rows.mean(axis=0), rtol=1e-5)  # the training prevalence


def test_fit_forecaster_refuses_unknown_names_and_params(histories: dict) -> None:
    with pytest.raises(KeyError, match="unknown forecaster 'repeat'.*known: .*repeat_table"):
        clincode.fit_forecaster("repeat", histories["train"])
    with pytest.raises(ValueError, match="unknown parameter.*smoothin.*accepted: scheme, smoothing"):
        clincode.fit_forecaster("repeat_table", histories["train"], smoothin=1.0)


# ----------------------------------------------------------------------------------- load_run, predict
@pytest.fixture(scope="module")
def table_run(tiny_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from clincode.config import load_config
    from clincode.resources import config_path
    from clincode.train.fit import train_run

    overrides = [
        f"data.path={tiny_cohort}", "data.num_labels=40", f"out_dir={tmp_path_factory.mktemp('runs')}",
        "name=table", "model.name=repeat_table", "model.params={}", "eval.n_bootstrap=0", "trainer.progress=false",
    ]  # fmt: skip
    return train_run(load_config(config_path("next_visit"), overrides), console=Console(quiet=True))


def test_run_predict_equals_clincode_predict(table_run: Path, tiny_cohort: Path, tmp_path: Path) -> None:
    from clincode.train.predict import predict_to_file

    run = clincode.load_run(table_run)
    assert isinstance(run, clincode.Run) and run.config.model.name == "repeat_table"
    assert len(run.label_codes) == 40
    assert hasattr(run.build_model(), "predict_proba")
    table = run.predict(tiny_cohort, split="tuning", top_k=3)
    out = tmp_path / "p.parquet"
    n = predict_to_file(table_run, tiny_cohort, out, top_k=3, split="tuning", console=Console(quiet=True))
    assert n == table.height
    assert pl.read_parquet(out).equals(table)
    per_label = run.predict(tiny_cohort, split="tuning", top_k=3, rule="0.5")
    assert per_label.filter(pl.col("alert"))["probability"].min() >= 0.5


def test_run_errors(table_run: Path, tiny_cohort: Path, tmp_path: Path) -> None:
    from clincode.train.runs import RunError

    with pytest.raises(RunError, match="does not exist"):
        clincode.load_run(tmp_path / "nowhere")
    (tmp_path / "unfinished").mkdir()
    with pytest.raises(RunError, match="has not finished"):
        clincode.load_run(tmp_path / "unfinished")
    run = clincode.load_run(table_run)
    with pytest.raises(ValueError, match="rule must be one of global, per_label, 0.5"):
        run.predict(tiny_cohort, rule="median")
    with pytest.raises(ValueError, match="--split must be one of"):
        run.predict(tiny_cohort, split="test")
