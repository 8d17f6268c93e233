"""Fit a one-pass run (``model.name`` a task's one-pass model: a coder, a history forecaster) and save it.

The run directory has the layout of any run (config.yaml, environment.json, model.ckpt, then
thresholds and metrics from :func:`clincode.train.evaluate.evaluate_run`); ``model.ckpt`` holds the
fitted model's state (``to_dict``, under ``extras["one_pass_state"]``) instead of network weights.
What the model reads and how it is fitted is the task's business (:class:`clincode.tasks.base.OnePassTask`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from clincode.config import RunConfig, config_to_yaml
from clincode.io import write_json, write_text
from clincode.tasks import Task
from clincode.tasks.base import OnePassTask
from clincode.train.environment import environment
from clincode.train.runs import ARTEFACT, Artefact


def fit_one_pass_run(cfg: RunConfig, task: Task, data: Any, run_dir: Path, *, console: Console) -> Artefact:
    """Fit the one-pass model of ``cfg`` on ``data`` and write the run's artefact."""
    assert isinstance(task, OnePassTask)
    start = time.perf_counter()
    fit = task.fit_one_pass(cfg, data, console=console)
    console.print(f"fitted {cfg.model.name} on the training {task.unit}s in {time.perf_counter() - start:.1f} s")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "config.yaml", config_to_yaml(cfg))
    write_json(run_dir / "environment.json", environment(cfg.seed))
    artefact = Artefact(
        config=cfg.model_dump(mode="json"),
        model_name=cfg.model.name,
        model_params=dict(cfg.model.params),
        vocab_size=len(data.vocab),
        num_labels=len(fit.label_space),
        model_state={},
        loss_name=cfg.loss.name,
        loss_params=dict(cfg.loss.params),
        loss_state={},
        label_space=fit.label_space.to_dict(),
        vocab=data.vocab.to_dict(),
        thresholds=None,
        extras={"one_pass_state": fit.model.to_dict(), **fit.extras},
    )
    artefact.save(run_dir / ARTEFACT)
    return artefact
