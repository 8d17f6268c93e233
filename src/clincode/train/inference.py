"""Run a trained model over a data loader and collect one row per scored unit.

What a row is (a (patient, visit) or a document) is the task's business
(:meth:`clincode.tasks.Task.batch_rows`); a multitask model's dict keeps its ``"icd"`` head.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import Progress
from torch import Tensor, nn

from clincode.config import RunConfig
from clincode.tasks import Predictions, Task
from clincode.tasks.base import ROW_FIELDS, Keep, OnePassTask


@torch.no_grad()
def predict_rows(
    model: nn.Module,
    batches: Iterable[dict[str, Tensor]],
    task: Task,
    *,
    keep: Keep = "targets",
    progress: bool = False,
    description: str = "predicting",
    total: int | None = None,
) -> Predictions:
    """Collect probabilities row by row.

    keep="targets": rows with at least one non-ignored target (what evaluation scores);
    keep="visits": every real visit, including each patient's last (the actual forecast).
    """
    model.eval()
    out: dict[str, list[np.ndarray]] = {k: [] for k in (*ROW_FIELDS, "doc_index")}
    with Progress(disable=not progress, transient=True) as bar:
        job = bar.add_task(description, total=total)
        for batch in batches:
            outputs = model(batch)
            logits = (outputs["icd"] if isinstance(outputs, dict) else outputs).float()
            for name, values in task.batch_rows(logits, batch, keep).items():
                out[name].append(values)
            bar.advance(job)
    if not out["probs"]:
        raise ValueError("no rows to predict: the split is empty")
    docs = out.pop("doc_index")
    arrays: dict[str, Any] = {k: np.concatenate(v) for k, v in out.items()}
    return Predictions(**arrays, doc_index=np.concatenate(docs) if docs else None)


def predict_split(
    model: Any,
    task: Task,
    data: Any,
    split: str,
    cfg: RunConfig,
    *,
    path: Path | None = None,
    keep: Keep = "targets",
    progress: bool = False,
    description: str = "predicting",
    evidence: bool = False,
) -> Predictions:
    """Predictions of a trained model (a network, or a one-pass model of the task) on one split.

    A one-pass model (a coder, a history forecaster) is applied by its task
    (:meth:`clincode.tasks.base.OnePassTask.predict_one_pass`; ``path``: the data it reads, default
    ``data.path``; ``evidence``: also each code's evidence spans, where the model gives them); a
    network reads the task's batches.
    """
    if not isinstance(model, nn.Module):
        if not isinstance(task, OnePassTask):
            raise ValueError(f"{type(model).__name__} is fitted in one pass; the {task.name} task has no one-pass models")
        return task.predict_one_pass(model, cfg, data, split, path=path, keep=keep, evidence=evidence)
    loader = task.loader(data, split, cfg, shuffle=False, eval=True)
    return predict_rows(model, loader, task, keep=keep, progress=progress, description=description)
