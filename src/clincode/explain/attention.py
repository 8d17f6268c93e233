r"""Attention as evidence for label-attention networks (CAML, LAAT, MARN): the most attended window.

A label-attention layer (:class:`clincode.models.layers.label_attention.LabelAttention`) gives,
for each label, weights over the document's token positions. The evidence shown for a code is the
window of ``2 * half_window + 1`` tokens around its most attended position, as a character span of
the text: what the network looked at, not a reference it was trained to give (unlike a dictionary
coder's matches), and labelled as attention wherever it is shown.

The weights are read with a forward hook on the network's label-attention layer for the run's
labels (MARN's ICD head, not its CCS head); the model code is untouched. Token position ``i`` is the
``i``-th token of :func:`clincode.data.notes.text.tokenize` (lower-cased ``\w+`` words without the
purely numeric ones), the tokens the coding task encodes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from clincode.coders.evidence import Span
from clincode.models.layers.label_attention import LabelAttention

_WORD = re.compile(r"\w+")


def token_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the tokens :func:`clincode.data.notes.text.tokenize` keeps, in order."""
    return [(m.start(), m.end()) for m in _WORD.finditer(text) if not m.group().lower().isnumeric()]


def label_attention_layer(model: nn.Module, num_labels: int) -> LabelAttention | None:
    """The model's label-attention layer over ``num_labels`` labels (None: the model has none)."""
    for module in model.modules():
        if isinstance(module, LabelAttention) and module.num_labels == num_labels:
            return module
    return None


@torch.no_grad()
def attention_rows(
    model: nn.Module, batches: Iterable[dict[str, Tensor]], task: Any, num_labels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Score every batch and keep each label's most attended position.

    Returns ``doc_index`` [N], ``probs`` [N, V], ``position`` [N, V] (token index) and ``weight``
    [N, V] (its attention weight), rows in loader order. Raises ValueError when the model has no
    label-attention layer over the run's labels.
    """
    layer = label_attention_layer(model, num_labels)
    if layer is None:
        raise ValueError(f"{type(model).__name__} has no label-attention layer over {num_labels} labels: no attention to show")
    seen: list[tuple[Tensor, Tensor]] = []

    def keep(_module: nn.Module, _inputs: Any, output: tuple[Tensor, Tensor]) -> None:
        weight, position = output[1].max(dim=-1)  # (B, V) over token positions
        seen.append((position, weight))

    handle = layer.register_forward_hook(keep)
    model.eval()
    docs, probs, positions, weights = [], [], [], []
    try:
        for batch in batches:
            seen.clear()
            outputs = model(batch)
            logits = (outputs["icd"] if isinstance(outputs, dict) else outputs).float()
            rows = task.batch_rows(logits, batch, "visits")
            position, weight = seen[-1]
            docs.append(rows["doc_index"])
            probs.append(rows["probs"])
            positions.append(position.numpy())
            weights.append(weight.float().numpy())
    finally:
        handle.remove()
    if not docs:
        raise ValueError("no document to score: the split is empty")
    return np.concatenate(docs), np.concatenate(probs), np.concatenate(positions), np.concatenate(weights)


def attention_spans(
    text: str, labels: Sequence[int], position: np.ndarray, weight: np.ndarray, half_window: int = 2
) -> dict[int, list[Span]]:
    """Label -> its attention window in ``text`` (one span), for ``labels`` of one document.

    ``position`` / ``weight``: [V] most attended token index and its weight (:func:`attention_rows`).
    """
    spans = token_spans(text)
    out: dict[int, list[Span]] = {}
    for j in labels:
        t = int(position[j])
        if not 0 <= t < len(spans):  # a padding position (empty or truncated text)
            continue
        lo, hi = max(0, t - half_window), min(len(spans) - 1, t + half_window)
        s, e = spans[lo][0], spans[hi][1]
        out[int(j)] = [Span(s, e, text[s:e], float(weight[j]))]
    return out
