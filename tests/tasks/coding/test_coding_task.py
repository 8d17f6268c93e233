"""The coding task end to end on a tiny notes table: train (MARN multitask), artefacts, resume, hooks,
CLI, packaged configs.
"""

import io
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from rich.console import Console
from torch import Tensor, nn
from typer.testing import CliRunner

from clincode.cli import app
from clincode.config import load_config
from clincode.losses import MultitaskLoss
from clincode.models import MODELS
from clincode.resources import config_path
from clincode.tasks.coding.build import description_tokens
from clincode.tasks.coding.task import prepare_coding, word2vec_matrix
from clincode.train import fit
from clincode.train.runs import Artefact
from helpers.coding_notes import notes_frame, tiny_overrides, write_notes

QUIET = Console(quiet=True)


@pytest.fixture(scope="module")
def notes(tmp_path_factory) -> Path:
    return write_notes(tmp_path_factory.mktemp("notes"))


@pytest.fixture(scope="module")
def marn_run(notes, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    cfg = load_config(config_path("codiesp_marn"), tiny_overrides(notes, out))
    return fit.train_run(cfg, console=QUIET)


def test_marn_multitask_run_writes_sane_metrics(marn_run):
    m = json.loads((marn_run / "metrics.json").read_text())
    frame = notes_frame()
    held = frame.filter(frame["split"] == "held_out")
    train_codes = {c for d in frame.filter(frame["split"] == "train")["codes"].to_list() for c in d}
    assert m["n_rows"] == held.height and m["n_labels"] == len(train_codes)
    for key in ("auroc_micro", "auprc_micro", "auroc_macro"):
        assert 0.0 <= m["ranking"][key] <= 1.0
    # Keywords make the task easy: even two epochs of a tiny MARN rank far above chance.
    assert m["ranking"]["auroc_micro"] > 0.6
    gold = [c for d in held["codes"].to_list() for c in d]
    assert m["coding"]["gold_codes"] == len(gold)
    assert m["coding"]["gold_codes_unseen_in_train"] == sum(c not in train_codes for c in gold)
    # Codes never seen in training count as never retrieved: MAP over all gold codes <= label-space MAP.
    assert m["coding"]["map_all_gold"] <= m["map"] + 1e-12
    assert m["run"]["model"] == "marn"
    for name in ("config.yaml", "thresholds.json", "model.ckpt", "per_label.parquet", "word2vec.npy"):
        assert (marn_run / name).is_file(), name


def test_artefact_holds_frozen_word2vec_and_ccs_head(marn_run):
    artefact = Artefact.load(marn_run / "model.ckpt")
    cfg = load_config(marn_run / "config.yaml")
    data = prepare_coding(cfg, console=QUIET)
    assert artefact.model_params["num_ccs"] == data.num_ccs > 0
    w2v = np.load(marn_run / "word2vec.npy")
    np.testing.assert_array_equal(w2v, word2vec_matrix(cfg, data))
    assert w2v.shape == (len(data.vocab), 8)
    # Frozen embeddings: the trained weights are still the L2-normalised word2vec rows, PAD zero.
    emb = artefact.model_state["embed.embedding.weight"].numpy()
    expected = w2v / np.maximum(np.linalg.norm(w2v, axis=1, keepdims=True), 1e-12)
    expected[0] = 0.0
    np.testing.assert_allclose(emb, expected, rtol=1e-5, atol=1e-6)
    model = artefact.build_model()
    batch = {"tokens": torch.tensor([[2, 3, 4]]), "token_mask": torch.ones(1, 3, dtype=torch.bool)}
    out = model(batch)
    assert out["icd"].shape == (1, data.num_labels) and out["ccs"].shape == (1, data.num_ccs)


class _Interrupt(Callback):
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated crash after epoch 1")


def test_interrupted_run_resumes_and_matches_uninterrupted(notes, tmp_path, monkeypatch):
    sets = dict(**{"trainer.max_epochs": 3, "trainer.patience": 10, "data.text.ccs": "false", "model.name": "caml",
                   "model.params": "{embed_dim: 8, num_filters: 6, kernel_size: 3, embed_dropout: 0.0}"})
    ref = fit.train_run(load_config(config_path("codiesp_marn"), tiny_overrides(notes, tmp_path, name="ref", **sets)), console=QUIET)

    cfg = load_config(config_path("codiesp_marn"), tiny_overrides(notes, tmp_path, name="crash", **sets))
    original = fit.build_trainer

    def crashing(cfg, run_dir, resume=None, **kwargs):
        trainer, ckpt = original(cfg, run_dir, resume, **kwargs)
        trainer.callbacks.append(_Interrupt())
        return trainer, ckpt

    monkeypatch.setattr(fit, "build_trainer", crashing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit.train_run(cfg, console=QUIET)
    assert (tmp_path / "crash" / "checkpoints" / "last.ckpt").is_file()
    assert not (tmp_path / "crash" / "metrics.json").exists()
    monkeypatch.setattr(fit, "build_trainer", original)
    console = Console(record=True, file=io.StringIO())
    fit.train_run(cfg, console=console)
    assert "resuming from" in console.export_text()
    a = json.loads((ref / "metrics.json").read_text())
    b = json.loads((tmp_path / "crash" / "metrics.json").read_text())
    for key in ("auprc_micro", "auroc_micro", "auprc_macro"):
        assert b["ranking"][key] == pytest.approx(a["ranking"][key], rel=1e-5, abs=1e-7)
    assert b["map"] == pytest.approx(a["map"], rel=1e-5, abs=1e-7)
    # The resumed run went on to the last epoch and its CSV log kept the epochs before the crash,
    # each validated once.
    log = pl.read_csv(tmp_path / "crash" / "logs" / "metrics.csv")
    assert sorted(log.filter(pl.col("val/auprc_micro").is_not_null())["epoch"].to_list()) == [0, 1, 2]


class _DescriptionModel(nn.Module):
    """Bag of embeddings with the DR-CAML hooks: records the description tensors it is given."""

    def __init__(self, vocab_size: int, num_labels: int, embed_dim: int = 8, aux_weight: float = 0.5) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.out = nn.Linear(embed_dim, num_labels)
        self.aux_weight = aux_weight
        self.register_buffer("desc_ids", torch.zeros(num_labels, 1, dtype=torch.long))

    def set_label_descriptions(self, desc_token_ids: Tensor, desc_mask: Tensor) -> None:
        self.desc_ids = desc_token_ids.clone()
        self.desc_mask = desc_mask.clone()

    def auxiliary_loss(self, batch: dict[str, Tensor]) -> Tensor:
        return self.aux_weight * self.out.weight.pow(2).sum()

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        mask = batch["token_mask"].unsqueeze(-1).float()
        pooled = (self.embed(batch["tokens"]) * mask).sum(1) / mask.sum(1).clamp(min=1)
        return self.out(pooled)


def test_description_and_auxiliary_loss_hooks(notes, tmp_path, monkeypatch):
    monkeypatch.setitem(MODELS._items, "description_hooks_model", _DescriptionModel)
    cfg = load_config(
        config_path("codiesp_marn"),
        tiny_overrides(notes, tmp_path, name="hooks", **{"model.name": "description_hooks_model", "model.params": "{}",
                                                         "data.text.ccs": "false", "data.text.word2vec": "false",
                                                         "trainer.max_epochs": 1}),
    )
    run = fit.train_run(cfg, console=QUIET)
    data = prepare_coding(cfg, console=QUIET)
    ids, mask = description_tokens(data.label_space.descriptions(), data.vocab)
    model = Artefact.load(run / "model.ckpt").build_model()  # descriptions set before the state loads
    assert torch.equal(model.desc_ids, torch.from_numpy(ids)) and torch.equal(model.desc_mask, torch.from_numpy(mask))
    assert model.desc_ids.shape[0] == data.num_labels
    logs = pl.read_csv(run / "logs" / "metrics.csv")
    assert "train/aux_loss" in logs.columns and logs["train/aux_loss"].drop_nulls().min() > 0


def test_ccs_with_a_model_without_ccs_head_is_a_clear_error(notes, tmp_path):
    cfg = load_config(config_path("codiesp_marn"), tiny_overrides(notes, tmp_path, **{"model.name": "cnn", "model.params": "{embed_dim: 8}"}))
    with pytest.raises(ValueError, match="has no CCS head"):
        fit.train_run(cfg, console=QUIET)
    assert not (tmp_path / "tiny_marn").exists()


def test_wrong_data_path_fails_before_the_run_starts(tmp_path):
    cfg = load_config(config_path("codiesp_marn"), tiny_overrides(tmp_path / "missing", tmp_path))
    with pytest.raises(FileNotFoundError, match="data.path .*missing does not exist"):
        fit.train_run(cfg, console=QUIET)
    result = CliRunner().invoke(app, ["train", str(config_path("codiesp_marn")), "--set", f"out_dir={tmp_path}"])
    assert result.exit_code == 1 and "data.path is not set" in result.output


def test_cli_evaluate_and_predict_on_a_coding_run(marn_run, notes, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", str(marn_run), "--split", "tuning", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    tuning = json.loads((marn_run / "metrics_tuning.json").read_text())
    assert tuning["n_rows"] == notes_frame().filter(pl.col("split") == "tuning").height
    out = tmp_path / "pred.parquet"
    result = runner.invoke(app, ["predict", str(marn_run), "--data", str(notes), "--out", str(out), "--top-k", "3", "--split", "held_out"])
    assert result.exit_code == 0, result.output
    pred = pl.read_parquet(out)
    held = notes_frame().filter(pl.col("split") == "held_out")
    assert set(pred["doc_id"].to_list()) == set(held["doc_id"].to_list())
    codes = set(Artefact.load(marn_run / "model.ckpt").label_space["codes"])
    assert set(pred["code"].to_list()) <= codes
    for _, doc in pred.group_by("doc_id"):
        doc = doc.sort("rank")
        assert doc["rank"].to_list()[:3] == [1, 2, 3]
        assert doc["probability"].to_list() == sorted(doc["probability"].to_list(), reverse=True)


@pytest.mark.parametrize("model", ["cnn", "bigru", "caml", "laat", "marn"])
def test_packaged_codiesp_configs_build_their_model_and_loss(model, notes, tmp_path):
    from clincode.tasks import task_for
    from clincode.tasks.coding.batches import CodingCollator, CodingDataset

    cfg = load_config(config_path(f"codiesp_{model}"), [f"data.path={notes}", f"out_dir={tmp_path}", "data.params.min_df=2", "data.params.w2v_epochs=1"])
    assert cfg.trainer.batch_size == 16 and cfg.optim.lr == 1e-3 and cfg.optim.weight_decay == 0.0
    data = prepare_coding(cfg, console=QUIET)
    parts = task_for(cfg).build_parts(cfg, data)
    ds = CodingDataset(data.split("train"))
    num_ccs = data.num_ccs if cfg.data.params["ccs"] else 0
    batch = CodingCollator(data.num_labels, num_ccs)([ds[0], ds[1]])
    out = parts.model.eval()(batch)
    if model == "marn":  # docs/methods.md section 4.4: focal loss, 0.7 / 0.3 multitask, frozen embeddings
        assert isinstance(parts.criterion, MultitaskLoss) and parts.criterion.ccs_weight == 0.3
        assert cfg.loss.name == "focal_marn" and cfg.trainer.monitor == "val/f1_macro" and cfg.trainer.patience == 10
        assert not parts.model.embed.embedding.weight.requires_grad
        assert out["icd"].shape == (2, data.num_labels) and out["ccs"].shape == (2, data.num_ccs)
    else:
        assert out.shape == (2, data.num_labels)
