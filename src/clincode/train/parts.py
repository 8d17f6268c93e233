"""Config + prepared data -> the model and loss of a run (both tasks), plus what the run must keep.

Next-visit: ``build_model`` + ``build_loss`` fitted on the training label statistics.
Coding (METHODS.md section 3): the model is built for the run's vocabulary and ICD labels (plus
``num_ccs`` for a CCS head when ``data.text.ccs``); its embedding is initialised from CBOW
word2vec trained on the training documents (kept in the run as ``word2vec.npy``); a model with
``set_label_descriptions`` receives every label's description encoded with the run's vocabulary;
with ``data.text.ccs`` the loss is :class:`MultitaskLoss` (the same registered loss on both heads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from clincode.config import RunConfig
from clincode.io import atomic_path
from clincode.losses import MultitaskLoss, build_loss
from clincode.models import MODELS, build_model
from clincode.models.registry import model_params


@dataclass
class RunParts:
    """A run's model and loss, the model parameters actually used, and files / artefact extras."""

    model: nn.Module
    criterion: nn.Module
    model_params: dict[str, Any]
    vocab_size: int
    num_labels: int
    word2vec: np.ndarray | None = None
    artefact_extras: dict[str, Any] = field(default_factory=dict)

    def loss_to_save(self) -> nn.Module:
        """The loss whose state goes into the artefact (the ICD part of a multitask loss)."""
        return self.criterion.icd if isinstance(self.criterion, MultitaskLoss) else self.criterion

    def write_files(self, run_dir: Path) -> None:
        if self.word2vec is not None:
            with atomic_path(Path(run_dir) / "word2vec.npy") as tmp:
                with open(tmp, "wb") as handle:
                    np.save(handle, self.word2vec)


def build_parts(cfg: RunConfig, data: Any) -> RunParts:
    """Model + fitted loss for ``cfg`` on prepared ``data`` (NextVisitData or CodingData)."""
    from clincode.train import data as task_data

    if cfg.data.task == "coding":
        return _coding_parts(cfg, data)
    num_labels = data.num_labels
    model = build_model(cfg.model.name, vocab_size=len(data.vocab), num_labels=num_labels, params=cfg.model.params)
    stats = task_data.label_stats(data)
    if hasattr(model, "set_label_counts"):  # per-segment models: segments from the training counts
        model.set_label_counts(stats.positives)
    if hasattr(model, "init_output_bias"):  # [ours] prior_bias: head bias at the training log-odds
        model.init_output_bias(stats.prevalence())
    criterion = build_loss(cfg.loss.name, num_labels, **cfg.loss.params)
    criterion.fit(stats)
    return RunParts(model, criterion, dict(cfg.model.params), len(data.vocab), num_labels)


def set_label_descriptions(model: nn.Module, extras: dict[str, Any]) -> None:
    """Give a model with ``set_label_descriptions`` the description tensors saved with its run."""
    if hasattr(model, "set_label_descriptions") and "label_descriptions" in extras:
        ids, mask = extras["label_descriptions"]
        model.set_label_descriptions(torch.as_tensor(ids, dtype=torch.long), torch.as_tensor(mask, dtype=torch.bool))


def _coding_parts(cfg: RunConfig, data: Any) -> RunParts:
    from clincode.data.coding_data import description_tokens
    from clincode.models.plm import WordpieceEncoding
    from clincode.train.coding_task import ccs_label_stats, coding_label_stats, text_config, word2vec_matrix

    text = text_config(cfg)
    cls = MODELS.get(cfg.model.name)
    accepted = model_params(cls)
    params = dict(cfg.model.params)
    if text.ccs:
        if "num_ccs" not in accepted:
            raise ValueError(
                f"data.text.ccs is true but model {cfg.model.name!r} has no CCS head (no num_ccs parameter); "
                "use model.name=marn or set data.text.ccs=false"
            )
        if "num_ccs" in params:
            raise ValueError("model.params.num_ccs is set from the data when data.text.ccs is true; remove it from model.params")
        if data.num_ccs == 0:
            raise ValueError("data.text.ccs is true but no training code maps to a CCS category; set data.text.ccs=false")
        params["num_ccs"] = data.num_ccs
    if text.word2vec and "embed_dim" in accepted:
        model_dim = params.get("embed_dim", accepted["embed_dim"])
        if model_dim != text.embed_dim:
            raise ValueError(
                f"data.text.embed_dim ({text.embed_dim}) differs from model.params.embed_dim ({model_dim}); "
                "word2vec vectors must have the model's embedding size"
            )
    # plm reads wordpiece ids of its own tokenizer (data.text.tokenizer), not the word vocabulary
    vocab_size = len(data.vocab) if text.tokenizer is None else WordpieceEncoding(text.tokenizer).vocab_size
    model = build_model(cfg.model.name, vocab_size=vocab_size, num_labels=data.num_labels, params=params)
    if hasattr(model, "set_label_counts"):  # per-segment models: segments from the training counts
        model.set_label_counts(coding_label_stats(data).positives)
    matrix = None
    if text.word2vec:
        if not hasattr(model, "load_embeddings"):
            raise ValueError(f"data.text.word2vec is true but model {cfg.model.name!r} has no load_embeddings; set it false")
        matrix = word2vec_matrix(cfg, data)
        model.load_embeddings(torch.from_numpy(matrix))
    extras: dict[str, Any] = {}
    if hasattr(model, "set_label_descriptions"):
        ids, mask = description_tokens(data.label_space.descriptions(), data.vocab)
        extras["label_descriptions"] = (torch.from_numpy(ids), torch.from_numpy(mask))
        set_label_descriptions(model, extras)
    icd = build_loss(cfg.loss.name, data.num_labels, **cfg.loss.params)
    if text.ccs:
        ccs = build_loss(cfg.loss.name, data.num_ccs, **cfg.loss.params)
        criterion: nn.Module = MultitaskLoss(icd, ccs, text.ccs_weight).fit(coding_label_stats(data), ccs_label_stats(data))
    else:
        criterion = icd.fit(coding_label_stats(data))
    return RunParts(model, criterion, params, vocab_size, data.num_labels, matrix, extras)
