"""End to end through the coding training path: plm + SH + noise filter, and segmented runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from rich.console import Console

from clincode.config import load_config
from clincode.data.notes.noise_encoder import SentenceEmbedder
from clincode.data.notes.noise_filter import filter_labels
from clincode.labels import Segmenter
from clincode.resources import config_path
from clincode.tasks.coding.task import coding_label_stats, prepare_coding
from clincode.train import fit
from clincode.train.runs import Artefact
from helpers.tiny_bert import tiny_bert_dir, write_notes

QUIET = Console(quiet=True)
TAU = 0.9


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("plm_sh")
    return write_notes(root / "notes"), tiny_bert_dir(root / "bert"), root / "runs"


def overrides(notes: Path, bert: Path, out: Path, **extra: object) -> list[str]:
    base: dict[str, object] = {
        "data.path": notes,
        "out_dir": out,
        "data.text.tokenizer": bert,
        "data.text.max_tokens": 40,
        "data.text.noise_filter_encoder": bert,
        "data.text.noise_filter_tau": TAU,
        "model.params.model_path": bert,
        "model.params.chunk_size": 16,
        "model.params.attention_dim": 8,
        "model.params.lora_r": 2,
        "trainer.max_epochs": 1,
        "trainer.progress": False,
        "eval.n_bootstrap": 2,
        "optim.lr": 0.01,
    }
    base.update(extra)
    return [f"{k}={v}" for k, v in base.items()]


def test_plm_sh_run_with_noise_filter_on_train_labels_only(setup) -> None:
    notes, bert, out = setup
    cfg = load_config(config_path("codiesp_sh"), overrides(notes, bert, out, name="plm_sh"))
    run = fit.train_run(cfg, console=QUIET)
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["ranking"]["auprc_micro"] <= 1.0
    data = prepare_coding(cfg, console=QUIET)
    rep = data.report["noise_filter"]
    # reference: the filter run directly on the notes with the same encoder and tau
    frame = pl.read_parquet(notes)
    filtered, direct = filter_labels(frame, embedder=SentenceEmbedder(bert), tau=TAU)
    assert rep["labels_removed"] == direct.labels_removed and rep["train_documents"] == 24
    train_labels = sum(len(x) for x in data.split("train")["labels"].to_list())
    assert train_labels == direct.labels_after
    # evaluation labels are the gold ones: same as a run without the filter
    plain = prepare_coding(load_config(config_path("codiesp_sh"), overrides(notes, bert, out, **{"data.text.noise_filter_tau": "null"})), console=QUIET)
    assert "noise_filter" not in plain.report
    for split in ("tuning", "held_out"):
        gold = [sorted(plain.label_space.codes_[i] for i in x) for x in plain.split(split)["labels"].to_list()]
        got = [sorted(data.label_space.codes_[i] for i in x) for x in data.split(split)["labels"].to_list()]
        kept = set(data.label_space.codes_)
        assert got == [[c for c in g if c in kept] for g in gold]
    # the run rebuilds from its artefact; plm read wordpiece ids of the tiny BERT tokenizer
    artefact = Artefact.load(run / "model.ckpt")
    model = artefact.build_model()
    tokens = torch.as_tensor(data.split("held_out")["tokens"][0].to_numpy(), dtype=torch.long)[None]
    logits = model({"tokens": tokens, "token_mask": torch.ones_like(tokens, dtype=torch.bool)})
    assert logits.shape == (1, data.num_labels)
    assert int(tokens.max()) < artefact.vocab_size == 89


@pytest.mark.parametrize("shared", [False, True])
def test_segmented_run_segments_from_training_counts_and_rebuilds(setup, shared: bool) -> None:
    notes, bert, out = setup
    cfg = load_config(
        config_path("codiesp_sh_segmented"),
        overrides(notes, bert, out, name=f"seg_{shared}", **{"model.params.shared_encoder": shared}),
    )
    params = dict(cfg.model.params)
    params["base_params"] = {"model_path": str(bert), "chunk_size": 16, "attention_dim": 8, "lora_r": 2}
    for key in ("model_path", "chunk_size", "attention_dim", "lora_r"):
        params.pop(key)
    cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"params": params})})
    run = fit.train_run(cfg, console=QUIET)
    assert (run / "metrics.json").is_file()
    data = prepare_coding(cfg, console=QUIET)
    counts = coding_label_stats(data).positives
    expected = Segmenter(0.5).fit(counts).segment_of_
    assert len(np.unique(expected)) > 1  # the tiny table has several frequency segments
    model = Artefact.load(run / "model.ckpt").build_model()
    assert np.array_equal(model.segment_of_.numpy(), expected)
    assert (len(model.parts) == 0) is shared
