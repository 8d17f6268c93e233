"""Run a trained model over a data loader and collect one row per (patient, visit) or per document.

Next-visit models give logits [B, T, V] (one row per visit); text-coding models give [B, V] (one
row per document; a multitask model's dict keeps its ``"icd"`` head).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from rich.progress import Progress
from torch import Tensor, nn


@dataclass
class Predictions:
    """Per-row outputs: one row per (patient, visit) kept, or per document for text coding.

    probs [N, V] float32, targets [N, V] int8 in {1, 0, -1}, subject_id / visit_index / visit_time [N];
    for documents, visit_index and visit_time are 0 and doc_index [N] is the row in the split table.
    """

    probs: np.ndarray
    targets: np.ndarray
    subject_id: np.ndarray
    visit_index: np.ndarray
    visit_time: np.ndarray
    doc_index: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.probs.shape[0])


@torch.no_grad()
def predict_rows(
    model: nn.Module,
    batches: Iterable[dict[str, Tensor]],
    *,
    keep: Literal["targets", "visits"] = "targets",
    progress: bool = False,
    description: str = "predicting",
    total: int | None = None,
) -> Predictions:
    """Collect probabilities row by row.

    keep="targets": rows with at least one non-ignored target (what evaluation scores);
    keep="visits": every real visit, including each patient's last (the actual forecast).
    """
    model.eval()
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("probs", "targets", "subject_id", "visit_index", "visit_time")}
    docs: list[np.ndarray] = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(description, total=total)
        for batch in batches:
            outputs = model(batch)
            logits = (outputs["icd"] if isinstance(outputs, dict) else outputs).float()
            if logits.dim() == 2:  # (B, V): one row per document, every document kept
                n = logits.shape[0]
                out["probs"].append(torch.sigmoid(logits).numpy())
                out["targets"].append(batch["targets"].to(torch.int8).numpy())
                out["subject_id"].append(batch["subject_id"].numpy())
                out["visit_index"].append(np.zeros(n, dtype=np.int64))
                out["visit_time"].append(np.zeros(n, dtype=np.int64))
                docs.append(batch["doc_index"].numpy())
                bar.advance(task)
                continue
            # (B, T, V)
            b, t, v = logits.shape
            targets = batch["targets"]
            if keep == "targets":
                mask = (targets != -1).any(dim=2)
            else:
                mask = batch["visit_mask"]
            rows = mask.reshape(-1)
            out["probs"].append(torch.sigmoid(logits).reshape(-1, v)[rows].numpy())
            out["targets"].append(targets.reshape(-1, v)[rows].to(torch.int8).numpy())
            out["subject_id"].append(batch["subject_id"].unsqueeze(1).expand(b, t).reshape(-1)[rows].numpy())
            out["visit_index"].append(torch.arange(t).expand(b, t).reshape(-1)[rows].numpy())
            out["visit_time"].append(batch["visit_time"].reshape(-1)[rows].numpy())
            bar.advance(task)
    if not out["probs"]:
        raise ValueError("no rows to predict: the split is empty")
    return Predictions(**{k: np.concatenate(v) for k, v in out.items()}, doc_index=np.concatenate(docs) if docs else None)
