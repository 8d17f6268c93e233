r"""CodiEsp (CLEF eHealth 2020) submission files: a ranked code list per document.

Format, matching the gold files ``{train,dev,test}/{split}{D,P}.tsv`` of the release: no header,
one line per (document, code), ``articleID<TAB>code``, UTF-8, ``\n`` line ends, codes without the
vocabulary prefix, lower case; ICD-10-CM dotted after the 3rd character (``ICD10CM//N44.8`` ->
``n44.8``, ``ICD10CM//R52`` -> ``r52``), ICD-10-PCS without a dot (``ICD10PCS//BW03ZZZ`` ->
``bw03zzz``). The official CodiEsp-D / CodiEsp-P measure is MAP over the ranking given by the
line order within each document, so codes are written best first; ties in probability keep the
label-column order (a stable sort). Subtasks D and P are separate submissions: a label space
mixing vocabularies must name the one to write (``vocab=``).

MAP (TREC style, docs/methods.md section 5.3): per document, the mean over its gold codes of the
precision at the rank where each is retrieved (0 for a gold code that is not retrieved); MAP
averages over documents with at least one gold code.

CodiEsp-X (:func:`codiesp_x_rows`, :func:`write_codiesp_x`): one line per evidence reference,
``articleID<TAB>start end<TAB>label<TAB>code`` with label ``DIAGNOSTICO`` (ICD-10-CM) or
``PROCEDIMIENTO`` (ICD-10-PCS), scored by :mod:`clincode.metrics.codiesp_x`. :func:`trec_map` computes it from a ranking
file re-read with :func:`read_codiesp_ranking`; for a full ranking (``top_k=None``) without tied
probabilities it equals ``clincode.metrics`` MAP computed on the probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clincode.codes import split_code
from clincode.codes.icd10 import dotted
from clincode.io import atomic_path

CODIESP_VOCABS = ("ICD10CM", "ICD10PCS")


def codiesp_code(label: str) -> str:
    """CodiEsp spelling of a prefixed label: ``"ICD10CM//N44.8"`` -> ``"n44.8"``, ``"ICD10PCS//BW03ZZZ"`` -> ``"bw03zzz"``."""
    vocab, body = split_code(label)
    body = body.strip()
    if not body:
        raise ValueError(f"label {label!r} has an empty code")
    if vocab == "ICD10CM":
        return dotted(body).lower()
    if vocab == "ICD10PCS":
        return body.replace(".", "").lower()
    raise ValueError(f"label {label!r} is not a CodiEsp code; expected a prefix among {', '.join(CODIESP_VOCABS)}")


def write_codiesp_ranking(
    path: Path,
    doc_ids: Sequence[str],
    probs: np.ndarray,
    label_codes: Sequence[str],
    top_k: int | None = None,
    *,
    vocab: str | None = None,
) -> None:
    """Write a CodiEsp ranking file atomically (format in the module docstring).

    Args:
        path: output ``.tsv``.
        doc_ids: ``(N,)`` CodiEsp article ids, one per row of ``probs``; written in this order.
        probs: float ``(N, V)`` scores (probabilities or logits: only the order matters).
        label_codes: ``(V,)`` prefixed labels of the columns (``"ICD10CM//N44.8"``).
        top_k: codes written per document, best first (None: all of them, the full ranking the
            official MAP expects).
        vocab: write only the columns of this vocabulary (``"ICD10CM"`` for CodiEsp-D,
            ``"ICD10PCS"`` for CodiEsp-P); required when ``label_codes`` mixes the two.

    Raises:
        ValueError: shapes disagree, a doc id is empty / duplicated / holds a tab or newline, a
            label is not an ICD-10-CM / ICD-10-PCS code, the vocabularies are mixed without
            ``vocab``, two labels share a CodiEsp spelling, or ``top_k`` < 1.
    """
    scores = np.asarray(probs)
    ids = [str(d) for d in doc_ids]
    labels = list(label_codes)
    if scores.ndim != 2 or scores.shape != (len(ids), len(labels)):
        raise ValueError(
            f"probs must be (len(doc_ids), len(label_codes)) = ({len(ids)}, {len(labels)}), got {scores.shape}"
        )
    if not np.isfinite(scores).all():
        raise ValueError("probs contains NaN or infinite values; expected finite scores")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
    bad = [d for d in ids if not d.strip() or "\t" in d or "\n" in d]
    if bad:
        raise ValueError(f"doc_ids must be non-empty without tabs or newlines, got {bad[0]!r}")
    if len(set(ids)) != len(ids):
        raise ValueError("doc_ids has duplicates; expected one row per CodiEsp article")
    vocabs = [split_code(label)[0] for label in labels]
    if vocab is None:
        present = sorted(set(vocabs))
        if len(present) > 1:
            raise ValueError(
                f"label_codes mix vocabularies {present}; CodiEsp D and P are separate submissions, pass vocab='ICD10CM' or 'ICD10PCS'"
            )
        cols = np.arange(len(labels))
    else:
        if vocab not in CODIESP_VOCABS:
            raise ValueError(f"vocab is {vocab!r}; expected one of {', '.join(CODIESP_VOCABS)}")
        cols = np.array([j for j, v in enumerate(vocabs) if v == vocab], dtype=np.int64)
        if cols.size == 0:
            raise ValueError(f"label_codes holds no {vocab} label")
    codes = np.array([codiesp_code(labels[j]) for j in cols], dtype=object)
    if len(set(codes)) != len(codes):
        raise ValueError("two labels map to the same CodiEsp code; expected distinct codes")
    sub = scores[:, cols]
    k = sub.shape[1] if top_k is None else min(top_k, sub.shape[1])
    order = np.argsort(-sub, axis=1, kind="stable")[:, :k]  # best first, ties by column order
    lines = [f"{doc}\t{codes[j]}\n" for doc, row in zip(ids, order, strict=True) for j in row]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(lines), encoding="utf-8", newline="\n")


def read_codiesp_ranking(path: Path) -> dict[str, list[str]]:
    """Read a CodiEsp code file (ranking or gold): article id -> codes in file order.

    Raises FileNotFoundError if ``path`` is missing and ValueError naming the line if a line is
    not ``articleID<TAB>code``. Blank lines are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; expected a CodiEsp articleID<TAB>code file")
    out: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0] or not fields[1]:
            raise ValueError(f"{path} line {number} is {line!r}; expected articleID<TAB>code")
        out.setdefault(fields[0], []).append(fields[1])
    return out


def trec_map(rankings: Mapping[str, Sequence[str]], gold: Mapping[str, Sequence[str]]) -> float:
    """TREC-style MAP of ``rankings`` (doc -> codes best first) against ``gold`` (doc -> codes).

    Per document with gold codes G: AP = (1 / |G|) * sum over ranks r where the r-th code is in G
    (first occurrence) of |G among the first r| / r; gold codes never retrieved add 0, a
    document missing from ``rankings`` has AP 0. MAP = mean AP over documents with gold codes
    (NaN if there are none).
    """
    aps = []
    for doc, gold_codes in gold.items():
        wanted = set(gold_codes)
        if not wanted:
            continue
        hits, total, seen = 0, 0.0, set()
        for rank, code in enumerate(rankings.get(doc, ()), start=1):
            if code in wanted and code not in seen:
                hits += 1
                total += hits / rank
            seen.add(code)
        aps.append(total / len(wanted))
    return float(np.mean(aps)) if aps else float("nan")


X_LABELS = {"ICD10CM": "DIAGNOSTICO", "ICD10PCS": "PROCEDIMIENTO"}


def codiesp_x_rows(
    doc_ids: Sequence[str],
    probs: np.ndarray,
    label_codes: Sequence[str],
    evidence: Sequence[Mapping[int, Sequence[Any]]],
    thresholds: np.ndarray,
    top_k: int | None = None,
    spans_per_code: int | None = None,
) -> list[tuple[str, int, int, str, str]]:
    """The CodiEsp-X lines of a prediction: ``(doc, start, end, label, code)``.

    Per document, its codes by decreasing probability (ties: column order), the first ``top_k``
    (None: all), those at or above their threshold, those with at least one evidence span; each
    gives its first ``spans_per_code`` spans (None: all; spans come strongest first). A code
    without evidence cannot be written: the format needs a reference.
    """
    scores = np.asarray(probs)
    labels = list(label_codes)
    if scores.shape != (len(doc_ids), len(labels)) or len(evidence) != len(doc_ids):
        raise ValueError(f"probs {scores.shape} and evidence ({len(evidence)}) must cover {len(doc_ids)} documents x {len(labels)} labels")
    thresholds = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (len(labels),))
    if (top_k is not None and top_k < 1) or (spans_per_code is not None and spans_per_code < 1):
        raise ValueError(f"top_k ({top_k}) and spans_per_code ({spans_per_code}) must be >= 1 or None")
    names = [codiesp_code(c) for c in labels]
    kinds = [X_LABELS[split_code(c)[0]] for c in labels]
    out: list[tuple[str, int, int, str, str]] = []
    for d, doc in enumerate(doc_ids):
        order = np.argsort(-scores[d], kind="stable")
        if top_k is not None:
            order = order[:top_k]
        for j in order:
            spans = evidence[d].get(int(j))
            if not spans or scores[d, j] < thresholds[j]:
                continue
            for span in list(spans)[:spans_per_code]:
                out.append((str(doc), int(span.start), int(span.end), kinds[j], names[j]))
    return out


def write_codiesp_x(path: Path, rows: Sequence[tuple[str, int, int, str, str]]) -> None:
    """Write CodiEsp-X lines atomically: ``articleID<TAB>start end<TAB>label<TAB>code``, no header."""
    bad = [r for r in rows if not str(r[0]).strip() or "\t" in str(r[0]) or "\n" in str(r[0])]
    if bad:
        raise ValueError(f"doc ids must be non-empty without tabs or newlines, got {bad[0][0]!r}")
    text = "".join(f"{doc}\t{start} {end}\t{label}\t{code}\n" for doc, start, end, label, code in rows)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
