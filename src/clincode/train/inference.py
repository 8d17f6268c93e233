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

from clincode.coders import DocumentCoder, EvidenceCoder
from clincode.config import RunConfig
from clincode.tasks import Predictions, Task
from clincode.tasks.base import ROW_FIELDS, DocumentTask, Keep


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
    return Predictions(**{k: np.concatenate(v) for k, v in out.items()}, doc_index=np.concatenate(docs) if docs else None)


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
    """Predictions of a trained model (network or one-pass coder) on one split of prepared data.

    A coder (:class:`clincode.coders.DocumentCoder`) reads the split's documents (``path``: the
    notes the data came from, default ``data.path``); a network reads the task's batches.
    ``evidence``: also collect each code's evidence spans, for coders that give them
    (:class:`clincode.coders.EvidenceCoder`).
    """
    if isinstance(model, DocumentCoder):
        if not isinstance(task, DocumentTask):
            raise ValueError(f"coders read documents; the {task.name} task has none (use data.task: coding)")
        docs = task.documents(cfg, data, split, path)
        if evidence and isinstance(model, EvidenceCoder):
            probs, spans = model.predict_with_evidence(docs.texts)
        else:
            probs, spans = model.predict_proba(docs.texts), None
        preds = task.document_predictions(data, split, np.clip(probs, 0.0, 1.0))
        preds.evidence = spans
        return preds
    loader = task.loader(data, split, cfg, shuffle=False, eval=True)
    return predict_rows(model, loader, task, keep=keep, progress=progress, description=description)
