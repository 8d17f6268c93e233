"""Evaluate a finished run: tune thresholds on the tuning split, score the held-out split."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from clincode.data.labels import LabelSpace
from clincode.io import write_json, write_text
from clincode.metrics import ThresholdTuner, evaluate, format_table
from clincode.tasks import task_for
from clincode.train.extras import write_extras
from clincode.train.inference import Predictions, predict_split
from clincode.train.runs import ARTEFACT, load_run


def evaluate_run(
    run_dir: Path,
    *,
    data: Any | None = None,
    console: Console | None = None,
    retune: bool = False,
    n_bootstrap: int | None = None,
    split: str = "held_out",
) -> dict[str, Any]:
    """Write ``thresholds.json`` (if not yet tuned), ``metrics.json`` and ``metrics.md``."""
    console = console or Console(stderr=True)
    run_dir = Path(run_dir)
    artefact, cfg = load_run(run_dir)
    task = task_for(cfg)
    if data is None:
        data = task.prepare(cfg, console=console)
    if artefact.label_space != data.label_space.to_dict():
        # The model's columns are not the prepared task's (a coder that extended its label space):
        # encode the data with the run's own label space so targets and columns line up.
        data = task.prepare_for_predict(cfg, Path(cfg.data.path), LabelSpace.from_dict(artefact.label_space), artefact.vocab)  # type: ignore[arg-type]  # a trained run has data.path
    model = artefact.build_model()
    progress = cfg.trainer.progress

    if artefact.thresholds is None or retune:
        tuning = predict_split(model, task, data, "tuning", cfg, progress=progress, description="tuning split")
        tuner = ThresholdTuner(min_positives=cfg.eval.threshold_min_positives).fit(tuning.probs, tuning.targets)
        artefact.thresholds = tuner.to_dict()
        artefact.save(run_dir / ARTEFACT)
        write_json(run_dir / "thresholds.json", artefact.thresholds)
    tuner = ThresholdTuner.from_dict(artefact.thresholds)

    start = time.perf_counter()
    preds = predict_split(model, task, data, split, cfg, progress=progress, description=f"{split} split")
    console.print(f"predicted the {split} split ({preds.probs.shape[0]:,} rows) in {time.perf_counter() - start:.1f} s")
    metrics = score_predictions(preds, data, cfg, tuner, split=split, n_bootstrap=n_bootstrap)
    metrics["run"] = {"name": cfg.name, "loss": cfg.loss.name, "model": cfg.model.name, "seed": cfg.seed, "split": split}
    suffix = "" if split == "held_out" else f"_{split}"
    write_extras(run_dir, preds.probs, preds.targets, data.label_space, tuner.global_threshold_, suffix)
    write_json(run_dir / f"metrics{suffix}.json", metrics)
    table = format_table(metrics)
    write_text(run_dir / f"metrics{suffix}.md", f"# {cfg.name}: {split} split\n\n{table}\n")
    console.print(table)
    return metrics


def score_predictions(
    preds: Predictions, data: Any, cfg: Any, tuner: ThresholdTuner, *, split: str = "held_out", n_bootstrap: int | None = None
) -> dict[str, Any]:
    """Every metric of one split's predictions (docs/methods.md, evaluation), plus the task's own (coding: CodiEsp's MAP)."""
    metrics = evaluate(
        preds.probs,
        preds.targets,
        groups=preds.subject_id,
        train_counts=np.asarray(data.label_space.counts_),
        thresholds=tuner,
        ks=tuple(cfg.eval.ks),
        n_bootstrap=cfg.eval.n_bootstrap if n_bootstrap is None else n_bootstrap,
        ci=cfg.eval.ci,
        seed=cfg.seed,
        progress=cfg.trainer.progress,
    )
    metrics.update(task_for(cfg).extra_metrics(preds, data, split, ks=tuple(cfg.eval.ks)))
    return metrics
