"""Train a one-pass coder run (``model.name`` a registered coder): fit on the training documents, save.

The run directory has the layout of any run (config.yaml, environment.json, model.ckpt, then
thresholds and metrics from :func:`clincode.train.evaluate.evaluate_run`); ``model.ckpt`` holds the
coder's state (JSON-serialisable, under ``extras["coder_state"]``) instead of network weights.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from clincode.coders import build_coder
from clincode.coders.registry import coder_params, fitted_label_codes
from clincode.coders.terminology import icd10cm_descriptions
from clincode.config import RunConfig, config_to_yaml
from clincode.io import write_json, write_text
from clincode.tasks import Task
from clincode.tasks.base import DocumentTask
from clincode.train.environment import environment
from clincode.train.runs import ARTEFACT, Artefact


def fit_coder_run(cfg: RunConfig, task: Task, data: Any, run_dir: Path, *, console: Console) -> Artefact:
    """Fit the coder of ``cfg`` on the training documents of ``data`` and write the run's artefact."""
    if not isinstance(task, DocumentTask):
        raise ValueError(f"model {cfg.model.name!r} is a coder of documents; data.task {task.name!r} has none (use coding)")
    language = cfg.data.text.language if cfg.data.text is not None else "en"
    _, keys_from = coder_params(cfg.model.name, cfg.model.params)
    coder = build_coder(cfg.model.name, cfg.model.params, language)  # bad parameters fail before anything is written
    docs = task.documents(cfg, data, "train", mentions=keys_from in ("evidence", "both"))
    codes = list(data.label_space.codes_)
    descriptions = icd10cm_descriptions(codes) if keys_from in ("terminology", "both") else None
    start = time.perf_counter()
    coder.fit(docs.texts, docs.codes, docs.mentions, codes, descriptions=descriptions)
    console.print(f"fitted {cfg.model.name} on {len(docs.texts)} training documents in {time.perf_counter() - start:.1f} s")
    # A coder may rank codes beyond the training labels (hierarchy back-off): its columns are the
    # training labels first, then the extension, and the run's label space follows them.
    fitted = fitted_label_codes(coder)
    if fitted[: len(codes)] != codes:
        raise ValueError(f"coder {cfg.model.name!r} reordered the label columns; expected the training labels first")
    space = data.label_space.extended(fitted[len(codes) :]) if len(fitted) > len(codes) else data.label_space
    if len(space) > len(codes):
        console.print(f"label space extended by {len(space) - len(codes)} codes related to the training codes")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "config.yaml", config_to_yaml(cfg))
    write_json(run_dir / "environment.json", environment(cfg.seed))
    artefact = Artefact(
        config=cfg.model_dump(mode="json"),
        model_name=cfg.model.name,
        model_params=dict(cfg.model.params),
        vocab_size=len(data.vocab),
        num_labels=len(space),
        model_state={},
        loss_name=cfg.loss.name,
        loss_params=dict(cfg.loss.params),
        loss_state={},
        label_space=space.to_dict(),
        vocab=data.vocab.to_dict(),
        thresholds=None,
        extras={"coder_state": coder.to_dict(), "keys_from": keys_from},
    )
    artefact.save(run_dir / ARTEFACT)
    return artefact
