"""``clincode explain``: static HTML pages of a coding run's predictions, one per document, and an index.

For each document of the chosen split (or the documents named): the text with the evidence of each
listed code highlighted (:mod:`clincode.explain.page`), the run's top-k codes with score and
description, whether each is gold (when the data have gold codes) and the gold codes the list
misses. Codes at or above the run's tuned global threshold (if the run has one) are in bold.
Evidence comes from coders that give it (``mention_dictionary``, ``mention_ranker``); for a
label-attention network (CAML, LAAT, MARN) the highlight is each code's most attended window,
labelled as attention (:mod:`clincode.explain.attention`); other networks' codes are listed
without highlights.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.console import Console

from clincode.coders import DocumentCoder, EvidenceCoder
from clincode.data.labels import LabelSpace
from clincode.data.splits import SPLIT_NAMES
from clincode.explain.attention import attention_rows, attention_spans, label_attention_layer
from clincode.explain.page import Page, PageCode, page_file_names, render_index, render_page
from clincode.io import write_text
from clincode.metrics import ThresholdTuner
from clincode.tasks import task_for
from clincode.tasks.base import Documents, DocumentTask
from clincode.tasks.coding.task import CodingTask
from clincode.train.inference import predict_split
from clincode.train.runs import RunError, load_run

SPLIT_ALIASES = {"dev": "tuning", "test": "held_out"}


def resolve_split(split: str) -> str:
    """A split name (``train``, ``tuning``, ``held_out``, or the CodiEsp names ``dev`` / ``test``)."""
    name = SPLIT_ALIASES.get(split, split)
    if name not in SPLIT_NAMES:
        raise ValueError(f"--split is {split!r}; expected one of {', '.join(SPLIT_NAMES)} (or dev, test)")
    return name


def explain_run(
    run_dir: Path,
    data_dir: Path,
    out_dir: Path,
    *,
    split: str = "held_out",
    doc_ids: Sequence[str] | None = None,
    top_k: int = 10,
    console: Console | None = None,
) -> dict[str, float | int]:
    """Write ``out_dir/index.html`` and ``out_dir/docs/<document>.html``; returns counts and seconds."""
    console = console or Console(stderr=True)
    start = time.perf_counter()
    if top_k < 1:
        raise ValueError(f"--top-k must be >= 1, got {top_k}")
    split = resolve_split(split)
    artefact, cfg = load_run(Path(run_dir))
    task = task_for(cfg)
    if not isinstance(task, DocumentTask):
        raise RunError(f"{run_dir} is a {task.name} run; clincode explain shows coded documents (data.task: coding)")
    label_space = LabelSpace.from_dict(artefact.label_space)
    model = artefact.build_model()
    data = None
    docs: Documents | None
    if isinstance(model, DocumentCoder) and isinstance(task, CodingTask):  # a coder reads text only: no encoding
        docs = task.split_documents(cfg, Path(data_dir), split)
    else:
        data = task.prepare_for_predict(cfg, Path(data_dir), label_space, artefact.vocab)
        docs = task.documents(cfg, data, split, Path(data_dir)) if data.split(split).height else None
    if docs is None or not docs.doc_ids:
        raise ValueError(f"{data_dir} has no document in split {split!r}")
    rows = list(range(len(docs.doc_ids)))
    if doc_ids:
        where = {d: i for i, d in enumerate(docs.doc_ids)}
        unknown = [d for d in doc_ids if d not in where]
        if unknown:
            raise ValueError(
                f"--doc {unknown[0]!r} is not a document of split {split!r} in {data_dir} "
                f"(e.g. {', '.join(docs.doc_ids[:3])})"
            )
        rows = [where[d] for d in dict.fromkeys(doc_ids)]
    texts = [docs.texts[i] for i in rows]
    evidence: list[dict[int, list]] | None = None
    kind = "evidence"
    if isinstance(model, EvidenceCoder):
        raw, evidence = model.predict_with_evidence(texts)
        probs = np.clip(raw, 0.0, 1.0)
    elif isinstance(model, DocumentCoder):
        probs = np.clip(model.predict_proba(texts), 0.0, 1.0)
    elif label_attention_layer(model, len(label_space.codes_)) is not None:
        # a label-attention network: its most attended window per code, labelled as attention
        assert data is not None
        loader = task.loader(data, split, cfg, shuffle=False, eval=True)  # type: ignore[arg-type]  # data is this task's own
        doc_index, all_probs, position, weight = attention_rows(model, loader, task, len(label_space.codes_))
        row_of = {int(d): i for i, d in enumerate(doc_index)}
        order_rows = [row_of[i] for i in rows]
        probs = all_probs[order_rows]
        top = np.argsort(-probs, axis=1, kind="stable")[:, : min(top_k, probs.shape[1])]
        evidence = [attention_spans(texts[n], top[n], position[r], weight[r]) for n, r in enumerate(order_rows)]
        kind = "attention"
    else:  # another network scores the whole split through the task's loader; no evidence
        assert data is not None
        preds = predict_split(model, task, data, split, cfg, path=Path(data_dir), keep="visits")
        assert preds.doc_index is not None
        row_of = {int(d): i for i, d in enumerate(preds.doc_index)}
        probs = preds.probs[[row_of[i] for i in rows]]
    codes = list(label_space.codes_)
    descriptions = label_space.descriptions()
    threshold = ThresholdTuner.from_dict(artefact.thresholds).global_threshold_ if artefact.thresholds else None
    has_gold = any(docs.codes[i] for i in range(len(docs.doc_ids)))
    out_dir = Path(out_dir)
    names = page_file_names([docs.doc_ids[i] for i in rows])
    order = np.argsort(-probs, axis=1, kind="stable")[:, : min(top_k, len(codes))]
    index = {c: j for j, c in enumerate(codes)}
    entries = []
    run_name = Path(run_dir).name
    for n, i in enumerate(rows):
        gold = set(docs.codes[i])
        listed = [int(j) for j in order[n]]
        page_codes = [
            PageCode(
                code=codes[j],
                description=descriptions[j],
                score=float(probs[n, j]),
                spans=tuple(s.as_pair() for s in (evidence[n].get(j, ()) if evidence is not None else ())),
                gold=(codes[j] in gold) if has_gold else None,
                alert=threshold is not None and probs[n, j] >= threshold,
            )
            for j in listed
        ]
        missed = [(c, descriptions[index[c]] if c in index else "(outside the run's label space)")
                  for c in sorted(gold - {codes[j] for j in listed})]
        hits = sum(codes[j] in gold for j in listed)
        subtitle = f"run {run_name} · split {split} · {len(listed)} codes listed" + (
            f" · {hits} of {len(gold)} gold codes among them" if has_gold else ""
        ) + ("" if evidence is not None else " · this model gives no evidence spans") + (
            " · highlights: the most attended window of each code" if kind == "attention" else "")
        page = Page(docs.doc_ids[i], texts[n], page_codes, missed, subtitle, kind=kind)
        write_text(out_dir / "docs" / names[n], render_page(page))
        entries.append((docs.doc_ids[i], f"docs/{names[n]}", len(listed), len(gold) if has_gold else None,
                        hits if has_gold else None, [codes[j] for j in listed[:3]]))
    write_text(out_dir / "index.html", render_index(f"clincode explain · {run_name} · {split}", entries))
    seconds = time.perf_counter() - start
    console.print(f"wrote {len(rows)} document pages and the index to {out_dir} in {seconds:.1f} s")
    return {"documents": len(rows), "seconds": seconds}
