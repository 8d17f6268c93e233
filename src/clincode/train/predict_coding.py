"""``clincode predict`` on a text-coding run: notes in, ranked codes out.

The notes (a CodiEsp release or a notes table, detected as in training) are encoded with the run's
own vocabulary and label space (never refitted). Two outputs:

- ``table`` (.parquet / .csv / .jsonl): one row per (document, listed code): the top-k codes by
  probability plus every code at or above the run's decision threshold (column ``alert``), with
  rank, probability and description;
- ``codiesp``: the CodiEsp submission format (one ``articleID<TAB>code`` line per ranked code),
  written by :func:`clincode.train.submission.write_codiesp_ranking`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
from rich.console import Console

from clincode.data.coding_data import build_coding
from clincode.data.labels import LabelSpace
from clincode.data.notes import TextVocab
from clincode.data.splits import SPLIT_NAMES
from clincode.io import atomic_path
from clincode.train.coding_task import coding_config, coding_loader, text_config
from clincode.train.inference import predict_rows
from clincode.train.submission import write_codiesp_ranking
from clincode.train.runs import RunError, load_run

def predict_coding_to_file(
    run_dir: Path,
    notes_path: Path,
    out_file: Path,
    *,
    top_k: int = 10,
    split: str | None = None,
    rule: str = "global",
    fmt: str = "table",
    console: Console | None = None,
) -> int:
    """Write ranked codes for every document of ``notes_path``; returns the number of rows written."""
    from clincode.train.predict import check_request, forecast_rows, rule_thresholds

    console = console or Console(stderr=True)
    out_file = Path(out_file)
    if fmt not in ("table", "codiesp"):
        raise ValueError(f"--format must be table or codiesp, got {fmt!r}")
    writer = check_request(out_file, top_k, split, need_writer=fmt == "table")
    artefact, cfg = load_run(Path(run_dir))
    if fmt == "table" and artefact.thresholds is None:
        raise RunError(f"{run_dir} has no tuned thresholds yet: run `clincode evaluate {run_dir}` first")
    label_space = LabelSpace.from_dict(artefact.label_space)
    vocab = TextVocab.from_dict(artefact.vocab)
    # The notes may be of another kind than the training data (a table instead of CodiEsp).
    config = replace(coding_config(text_config(cfg)), format="auto")
    data = build_coding(Path(notes_path), config, fitted=(vocab, label_space, []), allow_empty_splits=True)
    model = artefact.build_model()
    doc_ids: list[str] = []
    subjects: list[str] = []
    names: list[str] = []
    probs: list[np.ndarray] = []
    for name in [split] if split else list(SPLIT_NAMES):
        table = data.split(name)
        if table.height == 0:
            continue
        preds = predict_rows(model, coding_loader(data, name, cfg, shuffle=False, eval=True), progress=cfg.trainer.progress)
        assert preds.doc_index is not None
        doc_ids += table["doc_id"].gather(preds.doc_index).to_list()
        subjects += table["subject_id"].gather(preds.doc_index).to_list()
        names += [name] * len(preds)
        probs.append(preds.probs)
    if not probs:
        raise ValueError(f"no document to predict in {notes_path}" + (f" (split {split!r})" if split else ""))
    all_probs = np.concatenate(probs)
    codes = list(label_space.codes_)
    if fmt == "codiesp":
        write_codiesp_ranking(out_file, doc_ids, all_probs, codes, top_k)
        return len(doc_ids)
    thresholds = rule_thresholds(artefact.thresholds, rule, len(codes))  # type: ignore[arg-type]
    rows, labels, rank = forecast_rows(all_probs, thresholds, top_k)
    codes_arr = np.asarray(codes, dtype=object)
    descriptions = np.asarray(label_space.descriptions(), dtype=object)
    frame = pl.DataFrame(
        {
            "doc_id": np.asarray(doc_ids, dtype=object)[rows],
            "subject_id": np.asarray(subjects, dtype=object)[rows],
            "split": np.asarray(names, dtype=object)[rows],
            "rank": rank.astype(np.int32),
            "code": codes_arr[labels],
            "description": descriptions[labels],
            "probability": all_probs[rows, labels].astype(np.float32),
            "alert": all_probs[rows, labels] >= thresholds[labels],
        }
    )
    with atomic_path(out_file) as tmp:
        getattr(frame, writer)(tmp)  # type: ignore[arg-type]
    return frame.height
