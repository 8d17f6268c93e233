"""Embedding-similarity noise filter of training labels (Ray et al. 2023, docs/methods.md section 3.4).

For every TRAIN document: split the text into chunks of the encoder's maximum length, embed each
chunk, average the (unit-length) chunk embeddings; embed each code's description; drop the gold
code from the document's labels when cosine(note, description) < tau (0.55 in the paper).
Tuning and held-out labels are never touched (evaluation stays on the gold standard).

A code without a description (``describe`` falls back to the code itself: ICD-10-PCS, codes
unknown to the shipped release) cannot be scored: it is kept and counted in the report.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl

from clincode.data.notes.noise_encoder import Embedder, EmbeddingCache, SentenceEmbedder
from clincode.data.notes.result import NOTES_COLUMNS, NotesTable

PAPER_TAU = 0.55


@dataclass(frozen=True)
class NoiseFilterReport:
    """What the filter removed (training labels only).

    ``labels_*`` count (document, code) pairs; ``codes_*`` count distinct codes.
    ``codes_removed_entirely``: codes that had training labels and have none left (the paper's
    "removed 7,924 unique codes" is read as this). Similarity quantiles are over scored labels.
    """

    tau: float
    encoder: str
    chunk_tokens: int
    train_documents: int
    labels_before: int
    labels_removed: int
    labels_without_description: int
    codes_without_description: int
    codes_affected: int
    codes_removed_entirely: int
    documents_emptied: int
    similarity_quantiles: dict[str, float] = field(default_factory=dict)
    top_removed: dict[str, int] = field(default_factory=dict)

    @property
    def labels_after(self) -> int:
        return self.labels_before - self.labels_removed

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "labels_after": self.labels_after}


def has_description(code: str, text: str | None) -> bool:
    return text is not None and bool(text.strip()) and text.strip() != code


def filter_labels(
    frame: pl.DataFrame,
    encoder_path: str | Path | None = None,
    tau: float = PAPER_TAU,
    chunk_tokens: int | None = None,
    batch_size: int = 32,
    progress: bool = False,
    cache_dir: str | Path | None = None,
    embedder: Embedder | None = None,
    describe: Callable[[str], str] | Mapping[str, str] | None = None,
) -> tuple[pl.DataFrame, NoiseFilterReport]:
    """Remove training labels whose description is unlike the note; see the module docstring.

    Args:
        frame: canonical notes table (``doc_id``, ``text``, ``codes``, ``split``, ...).
        encoder_path: local sentence-transformers model directory; None: all-MiniLM-L6-v2 (offline).
        tau: cosine threshold in [-1, 1]; labels with similarity < tau are removed.
        chunk_tokens: encoder tokens per chunk (None: the encoder's maximum).
        batch_size: texts per encoder call.
        progress: show a progress bar over encoder batches.
        cache_dir: keep embeddings on disk keyed by (model, text hash); None: no cache.
        embedder: an :class:`Embedder` to use instead of loading ``encoder_path`` (tests).
        describe: code -> description (callable or mapping); None: :func:`clincode.codes.describe`.

    Returns:
        (frame with filtered ``codes`` on train rows, other rows and columns unchanged; report).
    """
    missing = [c for c in NOTES_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"noise filter: the notes frame has no column {missing}; expected the canonical notes table")
    if not (isinstance(tau, (int, float)) and math.isfinite(tau) and -1.0 <= tau <= 1.0):
        raise ValueError(f"noise filter tau must be a cosine similarity in [-1, 1], got {tau!r}")
    if batch_size < 1:
        raise ValueError(f"noise filter batch_size must be >= 1, got {batch_size}")
    enc = embedder if embedder is not None else SentenceEmbedder(encoder_path)
    chunk = enc.max_tokens if chunk_tokens is None else int(chunk_tokens)
    if not 1 <= chunk <= enc.max_tokens:
        raise ValueError(f"noise filter chunk_tokens must be in [1, {enc.max_tokens}] for encoder {enc.name}, got {chunk_tokens}")
    lookup = _describer(describe)

    codes_col: list[list[str]] = [list(c) if c is not None else [] for c in frame["codes"].to_list()]
    texts = frame["text"].to_list()
    train_rows = [i for i, s in enumerate(frame["split"].to_list()) if s == "train"]
    descriptions = {c: lookup(c) for c in sorted({c for i in train_rows for c in codes_col[i]})}
    described = sorted(c for c, d in descriptions.items() if has_description(c, d))
    described_set = set(described)
    scored_rows = [i for i in train_rows if any(c in described_set for c in codes_col[i])]

    embed = _embed_fn(enc, cache_dir, batch_size, progress)
    doc_vectors = _document_vectors(enc, embed, [texts[i] for i in scored_rows], chunk)
    code_vectors = _unit(embed([cast(str, descriptions[c]) for c in described])) if described else np.zeros((0, 1))
    code_index = {c: j for j, c in enumerate(described)}
    doc_index = {i: k for k, i in enumerate(scored_rows)}

    removed: Counter[str] = Counter()
    no_desc: Counter[str] = Counter()
    sims: list[float] = []
    before_codes: set[str] = set()
    after_codes: set[str] = set()
    emptied = 0
    labels_before = 0
    for i in train_rows:
        kept = []
        for code in codes_col[i]:
            labels_before += 1
            before_codes.add(code)
            j = code_index.get(code)
            if j is None:
                no_desc[code] += 1
                kept.append(code)
                continue
            sim = float(doc_vectors[doc_index[i]] @ code_vectors[j])
            sims.append(sim)
            if sim < tau:
                removed[code] += 1
            else:
                kept.append(code)
        emptied += int(bool(codes_col[i]) and not kept)
        after_codes.update(kept)
        codes_col[i] = kept
    out = frame.with_columns(pl.Series("codes", codes_col, dtype=pl.List(pl.String)))
    report = NoiseFilterReport(
        tau=float(tau),
        encoder=enc.name,
        chunk_tokens=chunk,
        train_documents=len(train_rows),
        labels_before=labels_before,
        labels_removed=int(sum(removed.values())),
        labels_without_description=int(sum(no_desc.values())),
        codes_without_description=len(no_desc),
        codes_affected=len(removed),
        codes_removed_entirely=len(before_codes - after_codes),
        documents_emptied=emptied,
        similarity_quantiles=_quantiles(sims),
        top_removed=dict(sorted(removed.items(), key=lambda kv: (-kv[1], kv[0]))[:20]),
    )
    return out, report


def _describer(describe: Callable[[str], str] | Mapping[str, str] | None) -> Callable[[str], str | None]:
    if describe is None:
        from clincode.codes import describe as default

        return default
    if isinstance(describe, Mapping):
        return describe.get
    return describe


def _embed_fn(
    enc: Embedder, cache_dir: str | Path | None, batch_size: int, progress: bool
) -> Callable[[list[str]], np.ndarray]:
    """texts -> [N, D], through the disk cache when asked, in progress-reporting slices."""
    cache = EmbeddingCache(cache_dir, enc.name) if cache_dir is not None else None

    def run(texts: list[str]) -> np.ndarray:
        return cache.embed(enc, texts, batch_size) if cache is not None else enc.embed(texts, batch_size)

    def embed(texts: list[str]) -> np.ndarray:
        if not progress or len(texts) <= batch_size * 4:
            return run(texts)
        from rich.progress import track

        step = batch_size * 4
        parts = [run(texts[a : a + step]) for a in track(range(0, len(texts), step), description="noise filter: embedding")]
        return np.concatenate(parts)

    return embed


def _document_vectors(enc: Embedder, embed: Callable[[list[str]], np.ndarray], texts: list[str], chunk: int) -> np.ndarray:
    """Unit-length mean of each document's unit-length chunk embeddings: [N_docs, D]."""
    if not texts:
        return np.zeros((0, 1))
    pieces = [enc.split(t, chunk) or [t] for t in texts]
    flat = [p for ps in pieces for p in ps]
    vectors = _unit(embed(flat))
    owner = np.repeat(np.arange(len(texts)), [len(ps) for ps in pieces])
    sums = np.zeros((len(texts), vectors.shape[1]))
    np.add.at(sums, owner, vectors)
    return _unit(sums / np.bincount(owner, minlength=len(texts))[:, None])


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    q = np.quantile(np.asarray(values), [0.0, 0.1, 0.5, 0.9, 1.0])
    return dict(zip(("min", "p10", "median", "p90", "max"), (round(float(v), 4) for v in q), strict=True))


def filter_notes(
    notes: NotesTable,
    tau: float,
    encoder_path: str | Path | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> tuple[NotesTable, dict[str, Any]]:
    """:func:`filter_labels` on a reader's :class:`NotesTable` (the coding data path's hook).

    Returns the table with filtered training labels and the report as a plain dict.
    """
    frame, report = filter_labels(notes.frame, encoder_path, tau, cache_dir=cache_dir, progress=progress)
    return replace(notes, frame=frame), report.to_dict()
