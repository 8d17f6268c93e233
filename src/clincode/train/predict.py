"""``clincode predict``: next-visit forecasts for every patient and visit of a MEDS dataset.

The dataset is encoded with the run's own vocabulary and label space (never refitted), every
visit gets a forecast (including each patient's last visit: the real forecast), and patients
with a single visit are kept. Output is tidy: one row per (patient, visit, listed code) with the
code's rank, probability, description and whether it is above the saved decision threshold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from rich.console import Console

from clincode.data.labels import LabelSpace
from clincode.data.next_visit_data import SPLIT_NAMES
from clincode.data.tasks import build_next_visit
from clincode.data.vocab import Vocab
from clincode.io import atomic_path
from clincode.metrics import ThresholdTuner
from clincode.train import data as task_data
from clincode.train.inference import predict_rows
from clincode.train.runs import RunError, load_run

Rule = Literal["global", "per_label", "0.5"]
WRITERS = {".parquet": "write_parquet", ".csv": "write_csv", ".jsonl": "write_ndjson"}


def forecast_rows(probs: np.ndarray, thresholds: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row, the union of its top-k labels and its labels at or above threshold.

    Returns (row index, label index, rank) arrays, ordered by row then rank (1 = most probable).
    """
    n, v = probs.shape
    k = min(top_k, v)
    order = np.argsort(-probs, axis=1, kind="stable")  # (N, V)
    ranks = np.empty_like(order)
    ranks[np.arange(n)[:, None], order] = np.arange(1, v + 1)
    keep = (ranks <= k) | (probs >= thresholds[None, :])
    rows, labels = np.nonzero(keep)
    rank = ranks[rows, labels]
    sort = np.lexsort((rank, rows))
    return rows[sort], labels[sort], rank[sort]


def check_request(out_file: Path, top_k: int, split: str | None, *, need_writer: bool = True) -> str | None:
    """Validate the shared ``clincode predict`` arguments; returns the polars writer method name."""
    writer = WRITERS.get(Path(out_file).suffix.lower())
    if need_writer and writer is None:
        raise ValueError(f"--out {out_file}: expected a .parquet, .csv or .jsonl file name")
    if top_k < 1:
        raise ValueError(f"--top-k must be >= 1, got {top_k}")
    if split is not None and split not in SPLIT_NAMES:
        raise ValueError(f"--split must be one of {', '.join(SPLIT_NAMES)}, got {split!r}")
    return writer


def rule_thresholds(saved: dict, rule: str, num_labels: int) -> np.ndarray:
    """Per-label thresholds [V] of a decision rule (global / per_label / 0.5) from saved thresholds."""
    tuner = ThresholdTuner.from_dict(saved)
    return {
        "global": lambda: np.full(num_labels, tuner.global_threshold_),
        "per_label": lambda: np.asarray(tuner.thresholds_),
        "0.5": lambda: np.full(num_labels, 0.5),
    }[rule]()


def run_task(run_dir: Path) -> str:
    """``data.task`` of a run directory, read from its config.yaml (next_visit if absent)."""
    import yaml

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        return "next_visit"  # load_run gives the clear error about the missing run
    return str((yaml.safe_load(path.read_text()) or {}).get("data", {}).get("task", "next_visit"))


def predict_to_file(
    run_dir: Path,
    data_dir: Path,
    out_file: Path,
    *,
    top_k: int = 10,
    split: str | None = None,
    rule: Rule = "global",
    console: Console | None = None,
    fmt: str = "table",
) -> int:
    """Write forecasts to ``out_file`` (.parquet, .csv or .jsonl); returns the number of rows.

    A text-coding run (``data.task: coding``) is handed to
    :func:`clincode.train.predict_coding.predict_coding_to_file` (``data_dir`` is then notes);
    ``fmt="codiesp"`` (CodiEsp submission file) exists for coding runs only.
    """
    console = console or Console(stderr=True)
    if run_task(Path(run_dir)) == "coding":
        from clincode.train.predict_coding import predict_coding_to_file

        return predict_coding_to_file(
            run_dir, data_dir, out_file, top_k=top_k, split=split, rule=rule, fmt=fmt, console=console
        )
    if fmt != "table":
        raise ValueError(f"--format {fmt!r} is for text-coding runs only; {run_dir} forecasts next visits (use --format table)")
    out_file = Path(out_file)
    writer = check_request(out_file, top_k, split)
    assert writer is not None
    artefact, cfg = load_run(Path(run_dir))
    if artefact.thresholds is None:
        raise RunError(f"{run_dir} has no tuned thresholds yet: run `clincode evaluate {run_dir}` first")
    label_space = LabelSpace.from_dict(artefact.label_space)
    vocab = Vocab.from_dict(artefact.vocab)
    kwargs = task_data.task_kwargs(cfg)
    kwargs["min_visits"] = 1  # a patient with one visit still gets a forecast
    data = build_next_visit(data_dir, **kwargs, fitted=(label_space, vocab), allow_empty_splits=True)
    thresholds = rule_thresholds(artefact.thresholds, rule, data.num_labels)
    codes = np.asarray(label_space.codes_, dtype=object)
    descriptions = np.asarray(label_space.descriptions(), dtype=object)
    model = artefact.build_model()
    frames = []
    for name in [split] if split else list(SPLIT_NAMES):
        if data.split(name).height == 0:
            continue
        preds = predict_rows(
            model, task_data.loader(data, name, cfg, shuffle=False, eval=True), keep="visits", progress=cfg.trainer.progress
        )
        rows, labels, rank = forecast_rows(preds.probs, thresholds, top_k)
        frames.append(
            pl.DataFrame(
                {
                    "subject_id": preds.subject_id[rows],
                    "split": np.full(len(rows), name, dtype=object),
                    "visit_index": preds.visit_index[rows],
                    "visit_time": (preds.visit_time[rows] * 1_000_000).astype("datetime64[us]"),
                    "rank": rank.astype(np.int32),
                    "code": codes[labels],
                    "description": descriptions[labels],
                    "probability": preds.probs[rows, labels].astype(np.float32),
                    "alert": preds.probs[rows, labels] >= thresholds[labels],
                }
            )
        )
    if not frames:
        raise ValueError(f"no patient to predict in {data_dir}" + (f" (split {split!r})" if split else ""))
    table = pl.concat(frames).sort(["subject_id", "visit_index", "rank"])
    with atomic_path(out_file) as tmp:
        getattr(table, writer)(tmp)
    return table.height
