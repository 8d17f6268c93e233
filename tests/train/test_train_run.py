"""A trained run holds everything needed to use and audit it; reruns resume or refuse clearly."""

import json

import numpy as np
import pytest
import torch
import yaml
from rich.console import Console

from clincode.config import load_config
from clincode.losses import LabelStats, build_loss
from clincode.resources import config_path
from clincode.tasks import task_for
from clincode.tasks.next_visit.batches import collate_next_visit, next_visit_dataset
from clincode.train.fit import train_run
from clincode.train.runs import Artefact, RunError
from helpers.training import tiny_overrides


def test_run_directory_contents(tiny_run):
    for name in ["config.yaml", "environment.json", "model.ckpt", "thresholds.json", "metrics.json", "metrics.md"]:
        assert (tiny_run / name).is_file(), name
    assert (tiny_run / "checkpoints" / "last.ckpt").is_file()
    assert (tiny_run / "logs" / "metrics.csv").read_text().count("\n") > 2
    env = json.loads((tiny_run / "environment.json").read_text())
    assert env["seed"] == 0 and env["packages"]["torch"]
    cfg = yaml.safe_load((tiny_run / "config.yaml").read_text())
    assert cfg["loss"]["name"] == "dependency_aware" and cfg["data"]["params"]["num_labels"] == 60


def test_artefact_holds_model_loss_labels_thresholds(tiny_run):
    art = Artefact.load(tiny_run / "model.ckpt")
    assert len(art.label_space["codes"]) == 60 and art.label_space["codes"][0].startswith("ICD10CM//")
    assert art.thresholds is not None
    model = art.build_model()
    assert model.head.out_features == 60
    loss = art.build_loss()
    w = loss.dependency_matrix()
    assert w.shape == (60, 60)
    assert torch.allclose(w, w.T) and torch.all(w.diagonal() == 0)
    # W is optimised with the model: it moved away from a fresh initialisation of the same seed.
    torch.manual_seed(0)
    fresh = build_loss("dependency_aware", 60).dependency_matrix()
    assert not torch.allclose(w, fresh)


def test_metrics_json_structure(tiny_run):
    m = json.loads((tiny_run / "metrics.json").read_text())
    assert 0 <= m["ranking"]["auprc_micro"] <= 1
    assert set(m["rules"]) >= {"0.5", "global", "per_label"}
    assert m["run"]["loss"] == "dependency_aware"
    # the tuned global threshold is the one saved with the model
    th = json.loads((tiny_run / "thresholds.json").read_text())
    assert m["rules"]["global"]["threshold"] == pytest.approx(th["global_threshold"])


def test_rerun_is_noop_and_conflicting_config_refused(tiny_run, tiny_cohort):
    before = (tiny_run / "metrics.json").stat().st_mtime_ns
    cfg = load_config(tiny_run / "config.yaml")
    train_run(cfg, console=Console(quiet=True))
    assert (tiny_run / "metrics.json").stat().st_mtime_ns == before
    other = load_config(config_path("demo"), tiny_overrides(tiny_cohort, tiny_run.parent, **{"loss.name": "bce"}))
    with pytest.raises(RunError, match="different config.*loss.name"):
        train_run(other, console=Console(quiet=True))


def test_label_stats_match_dense_targets(tiny_run):
    """The loss's training statistics equal those of the dense batches it is trained on."""
    cfg = load_config(tiny_run / "config.yaml")
    data = task_for(cfg).prepare(cfg, console=Console(quiet=True))
    fast = task_for(cfg).label_stats(data)
    ds = next_visit_dataset(data, "train")
    chunks = []
    for i in range(0, len(ds), 64):
        batch = collate_next_visit([ds[j] for j in range(i, min(i + 64, len(ds)))], data.num_labels)
        chunks.append(batch["targets"].reshape(-1, data.num_labels))
    ref = LabelStats.from_targets(chunks)
    assert fast.n_rows == ref.n_rows
    np.testing.assert_array_equal(fast.positives, ref.positives)
    np.testing.assert_array_equal(fast.valid, ref.valid)
    np.testing.assert_array_equal(fast.indptr, ref.indptr)
    np.testing.assert_array_equal(np.sort(fast.indices), np.sort(ref.indices))


def test_curves_and_per_label_tables(tiny_run):
    import polars as pl
    from sklearn.metrics import precision_recall_curve

    from clincode.train.extras import micro_curve

    curves = json.loads((tiny_run / "curves.json").read_text())["micro"]
    assert len(curves["recall"]) > 10
    assert all(np.diff(curves["recall"]) >= -1e-12)  # descending thresholds: recall grows
    table = pl.read_parquet(tiny_run / "per_label.parquet")
    assert table.height == 60 and table["train_count"].to_list() == sorted(table["train_count"].to_list(), reverse=True)
    m = json.loads((tiny_run / "metrics.json").read_text())
    assert table["auprc"].drop_nans().mean() == pytest.approx(m["ranking"]["auprc_macro"], rel=1e-6)

    # the thinned curve's points lie on scikit-learn's exact curve
    rng = np.random.default_rng(0)
    probs = rng.random((50, 6)).round(2)
    targets = (rng.random((50, 6)) < 0.3).astype(np.int8)
    targets[:5, :2] = -1
    c = micro_curve(probs, targets, points=1000)
    valid = targets != -1
    prec, rec, thr = precision_recall_curve(targets[valid], probs[valid])
    ref = {round(t, 6): (p, r) for p, r, t in zip(prec[:-1], rec[:-1], thr, strict=True)}
    for t, p, r, a in zip(c["threshold"], c["precision"], c["recall"], c["alerts_per_row"], strict=True):
        assert ref[round(t, 6)] == pytest.approx((p, r))
        assert a == pytest.approx(((probs >= t) & valid).sum() / valid.any(axis=1).sum())


def test_prior_bias_reaches_the_model_from_the_training_counts(tiny_cohort, tmp_path):
    """model.params.prior_bias: build_parts sets the head bias to the training log-odds of every label."""
    from clincode.tasks import task_for

    cfg = load_config(config_path("demo"), tiny_overrides(tiny_cohort, tmp_path, **{"model.params.prior_bias": "true"}))
    data = task_for(cfg).prepare(cfg, console=Console(quiet=True))
    parts = task_for(cfg).build_parts(cfg, data)
    stats = task_for(cfg).label_stats(data)
    expected = np.clip(stats.positives / np.maximum(stats.valid, 1), 1e-6, 1 - 1e-6)  # by hand, not prevalence()
    got = torch.sigmoid(parts.model.head.bias.detach().double()).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-9)
    assert expected.std() > 0  # the counts differ between labels, so this is not a constant bias


def test_prior_bias_follows_the_loss_weighted_bce_starts_at_one_half(tiny_cohort, tmp_path):
    """With weighted_bce (pos_weight = negatives / positives) the favoured constant is p = 1/2 for
    every label with training positives, and the prevalence (clipped) for the others.
    """
    from clincode.tasks import task_for

    overrides = {"model.params.prior_bias": "true", "loss.name": "weighted_bce"}
    cfg = load_config(config_path("demo"), tiny_overrides(tiny_cohort, tmp_path, **overrides))
    data = task_for(cfg).prepare(cfg, console=Console(quiet=True))
    parts = task_for(cfg).build_parts(cfg, data)
    stats = task_for(cfg).label_stats(data)
    got = torch.sigmoid(parts.model.head.bias.detach().double()).numpy()
    seen = stats.positives > 0
    np.testing.assert_allclose(got[seen], 0.5, rtol=1e-6)
    np.testing.assert_allclose(got[~seen], 1e-6, rtol=1e-3)
    assert seen.any()


def test_weighted_bce_prior_probability_minimises_its_constant_loss():
    """The favoured constant of weighted_bce is the argmin over p of its loss on a constant prediction."""
    from clincode.losses import build_loss

    loss = build_loss("weighted_bce", 1)
    targets = torch.tensor([[1], [0], [0], [0], [0]])  # pi = 1/5, pos_weight = 4
    grid = torch.linspace(0.05, 0.95, 91)
    values = [float(loss(torch.full((5, 1), float(torch.logit(p))), targets)) for p in grid]
    best = float(grid[int(np.argmin(values))])
    assert best == pytest.approx(float(loss.prior_probability(torch.tensor([0.2]))[0]), abs=0.011)
    assert float(build_loss("bce", 1).prior_probability(torch.tensor([0.2]))[0]) == pytest.approx(0.2)


def test_damaged_artefact_and_checkpoint_name_the_file(tiny_run, tmp_path):
    """A truncated model.ckpt (evaluate) or checkpoints/last.ckpt (resume) gives one error naming it."""
    import shutil

    from clincode.train.evaluate import evaluate_run
    from clincode.train.runs import RunError

    run = tmp_path / tiny_run.name
    shutil.copytree(tiny_run, run)
    artefact = run / "model.ckpt"
    artefact.write_bytes(artefact.read_bytes()[:100])
    with pytest.raises(RunError, match=r"model.ckpt is damaged.*delete it"):
        evaluate_run(run, console=Console(quiet=True))

    from clincode.train.fit import _checkpoint_step

    last = run / "checkpoints" / "last.ckpt"
    last.parent.mkdir(exist_ok=True)
    last.write_bytes(b"\x80\x02truncated")
    with pytest.raises(RunError, match=r"last.ckpt is damaged.*delete it to restart"):
        _checkpoint_step(last)
