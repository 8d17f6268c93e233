"""Evidence of a predicted code: the text spans of the key matches that carry its score.

A dictionary coder scores a code from the keys matched in the document (see
:mod:`clincode.coders.mention_coder`); the evidence of the code is every occurrence of those keys,
as character spans ``[start, end)`` of the original text (Python string offsets, end exclusive, the
convention of CodiEsp's ``"start end"`` references). Spans are ordered strongest first: by the
``p(code | key)`` of their key (times the negation factor for a negated occurrence), then by position.

A code ranked for another reason (training prior, neighbour votes, hierarchy back-off) has no span.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Span:
    """A character span ``text[start:end]`` of a document supporting a code, with its key's weight."""

    start: int
    end: int
    text: str
    weight: float = 1.0

    def as_pair(self) -> tuple[int, int]:
        return (self.start, self.end)


@dataclass(frozen=True)
class CodeEvidence:
    """One ranked code of a document: its label, score and evidence spans (strongest first)."""

    code: str
    score: float
    spans: tuple[Span, ...]


def ranked_evidence(
    scores: np.ndarray,
    spans: Sequence[Mapping[int, Sequence[Span]]],
    label_codes: Sequence[str],
    top_k: int | None = None,
) -> list[list[CodeEvidence]]:
    """Per document, its ``top_k`` codes by score (all with ``None``) with their spans.

    Args:
        scores: ``(N, V)`` scores, higher ranks first; ties keep the label-column order.
        spans: per document, label index -> spans (labels without a match may be absent).
        label_codes: ``(V,)`` label names.
        top_k: codes kept per document (None: every label).
    """
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape != (len(spans), len(label_codes)):
        raise ValueError(f"scores of shape {scores.shape}; expected ({len(spans)}, {len(label_codes)})")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
    k = scores.shape[1] if top_k is None else min(top_k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # (N, k)
    return [
        [CodeEvidence(label_codes[j], float(scores[d, j]), tuple(spans[d].get(int(j), ()))) for j in row]
        for d, row in enumerate(order)
    ]


SPAN_DTYPE = pl.List(pl.Struct({"start": pl.Int64, "end": pl.Int64, "text": pl.String}))


def spans_series(
    evidence: Sequence[Mapping[int, Sequence[Span]]], rows: np.ndarray, labels: np.ndarray, *, as_text: bool = False
) -> pl.Series:
    """Column ``spans`` of listed (row, label) pairs: each pair's spans as ``{start, end, text}`` structs
    (strongest first; an empty list for a code without evidence), or, ``as_text``, as a JSON string
    (for CSV, which holds no nested values).
    """
    values = [
        [{"start": s.start, "end": s.end, "text": s.text} for s in evidence[int(r)].get(int(c), ())]
        for r, c in zip(rows, labels, strict=True)
    ]
    if as_text:
        return pl.Series("spans", [json.dumps(v, ensure_ascii=False) for v in values], dtype=pl.String)
    return pl.Series("spans", values, dtype=SPAN_DTYPE)
