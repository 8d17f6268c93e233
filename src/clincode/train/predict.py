"""``clincode predict``: a trained run's predictions for new data, for any task.

The data are encoded with the run's own vocabulary and label space (never refitted). Next-visit
runs forecast every visit (including each patient's last visit: the real forecast) and keep
patients with a single visit; coding runs rank codes for every document. Output ``table`` is
tidy: one row per (unit, listed code), the unit's identifying columns (the task's), then the
code's rank, code, description, probability and whether it is at or above the decision threshold
(``alert``); listed codes are the top-k plus every code above threshold; a coder that gives
evidence adds the code's evidence spans (``spans``: start, end, text; in CSV a JSON string). A task
may write other formats (coding: ``codiesp``, the CodiEsp ranking file; ``codiesp-x``, the
CodiEsp-X file of evidence references).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from rich.console import Console

from clincode.coders.evidence import spans_series
from clincode.config import RunConfig
from clincode.data.labels import LabelSpace
from clincode.data.splits import SPLIT_NAMES
from clincode.io import atomic_path
from clincode.metrics import ThresholdTuner
from clincode.tasks import Predictions, Task, task_for
from clincode.train.inference import predict_split
from clincode.train.runs import Artefact, RunError, load_run

Rule = Literal["global", "per_label", "0.5"]
RULES: tuple[str, ...] = ("global", "per_label", "0.5")
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


def check_options(top_k: int, split: str | None, rule: str = "global", max_unknown: float = 0.5) -> None:
    """Validate the ``clincode predict`` options shared by every output, before any work."""
    if top_k < 1:
        raise ValueError(f"--top-k must be >= 1, got {top_k}")
    if split is not None and split not in SPLIT_NAMES:
        raise ValueError(f"--split must be one of {', '.join(SPLIT_NAMES)}, got {split!r}")
    if rule not in RULES:
        raise ValueError(f"--rule must be one of {', '.join(RULES)}, got {rule!r}")
    if not 0.0 <= max_unknown <= 1.0:
        raise ValueError(f"--max-unknown must be in [0, 1], got {max_unknown}")


def table_writer(out_file: Path) -> str:
    """The polars writer method for a ``table`` output file, from its suffix."""
    writer = WRITERS.get(Path(out_file).suffix.lower())
    if writer is None:
        raise ValueError(f"--out {out_file}: expected a .parquet, .csv or .jsonl file name")
    return writer


def rule_thresholds(saved: dict, rule: str, num_labels: int) -> np.ndarray:
    """Per-label thresholds [V] of a decision rule (global / per_label / 0.5) from saved thresholds."""
    tuner = ThresholdTuner.from_dict(saved)
    return {
        "global": lambda: np.full(num_labels, tuner.global_threshold_),
        "per_label": lambda: np.asarray(tuner.thresholds_),
        "0.5": lambda: np.full(num_labels, 0.5),
    }[rule]()


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
    max_unknown: float = 0.5,
) -> int:
    """Write predictions of the run in ``run_dir`` for ``data_dir`` to ``out_file``; returns the rows written.

    ``fmt="table"``: .parquet, .csv or .jsonl (see the module docstring); any other ``fmt`` is one
    of the task's own output formats. ``max_unknown``: the largest share of input tokens outside the
    run's vocabulary accepted (data coded or written unlike the training data give meaningless
    predictions); the share is always reported. Raises ``ValueError`` / ``RunError`` with the reason.
    """
    check_options(top_k, split, rule, max_unknown)
    out_file = Path(out_file)
    writer = table_writer(out_file) if fmt == "table" else None
    artefact, cfg = load_run(Path(run_dir))
    if fmt != "table":
        task, label_space, data, preds = run_predictions(
            artefact, cfg, Path(run_dir), Path(data_dir), split=split, fmt=fmt, console=console, max_unknown=max_unknown
        )
        codes = list(label_space.codes_)
        if artefact.thresholds is not None:  # formats that apply a decision rule read it here
            for p in preds.values():
                p.thresholds = rule_thresholds(artefact.thresholds, rule, len(codes))
        return task.write_output(fmt, out_file, data, preds, codes, top_k)
    assert writer is not None
    table = predict_frame(
        artefact, cfg, Path(run_dir), Path(data_dir), top_k=top_k, split=split, rule=rule, console=console,
        max_unknown=max_unknown, spans_as_text=writer == "write_csv",
    )  # fmt: skip
    with atomic_path(out_file) as tmp:
        getattr(table, writer)(tmp)
    return table.height


def run_predictions(
    artefact: Artefact,
    cfg: RunConfig,
    run_dir: Path,
    data_dir: Path,
    *,
    split: str | None = None,
    fmt: str = "table",
    console: Console | None = None,
    max_unknown: float = 0.5,
) -> tuple[Task, LabelSpace, Any, dict[str, Predictions]]:
    """The task, label space, encoded data and per-split predictions of a loaded run on ``data_dir``."""
    check_options(1, split, max_unknown=max_unknown)
    console = console or Console(stderr=True)
    task = task_for(cfg)
    if fmt not in task.output_formats:
        raise ValueError(f"--format {fmt!r} is not an output of {task.name} runs; choose one of {', '.join(task.output_formats)}")
    if fmt == "table" and artefact.thresholds is None:
        raise RunError(f"{run_dir} has no tuned thresholds yet: run `clincode evaluate {run_dir}` first")
    label_space = LabelSpace.from_dict(artefact.label_space)
    data = task.prepare_for_predict(cfg, Path(data_dir), label_space, artefact.vocab)
    unknown = task.unknown_share(data)
    if unknown is not None:
        share, n_tokens = unknown
        console.print(f"{share:.1%} of the {n_tokens} input tokens of {data_dir} are outside the run's vocabulary")
        if share > max_unknown:
            raise ValueError(
                f"{share:.1%} of the input tokens of {data_dir} are outside the vocabulary of {run_dir} "
                f"(expected at most {max_unknown:.0%}): the data look coded or written unlike the training data "
                "(another code system or language?); pass --max-unknown 1 to predict anyway"
            )
    model = artefact.build_model()
    preds: dict[str, Predictions] = {}
    for name in [split] if split else list(SPLIT_NAMES):
        if data.split(name).height == 0:
            continue
        preds[name] = predict_split(
            model, task, data, name, cfg, path=Path(data_dir), keep="visits", progress=cfg.trainer.progress, evidence=True
        )
    if not preds:
        raise ValueError(f"no {task.unit} to predict in {data_dir}" + (f" (split {split!r})" if split else ""))
    return task, label_space, data, preds


def predict_frame(
    artefact: Artefact,
    cfg: RunConfig,
    run_dir: Path,
    data_dir: Path,
    *,
    top_k: int = 10,
    split: str | None = None,
    rule: Rule = "global",
    console: Console | None = None,
    max_unknown: float = 0.5,
    spans_as_text: bool = False,
) -> pl.DataFrame:
    """The ``table`` output of ``clincode predict`` as a polars DataFrame (see the module docstring).

    ``spans_as_text``: a coder's evidence spans as JSON strings (for CSV) instead of lists of structs.
    """
    check_options(top_k, split, rule, max_unknown)
    task, label_space, data, preds = run_predictions(
        artefact, cfg, run_dir, data_dir, split=split, console=console, max_unknown=max_unknown
    )
    assert artefact.thresholds is not None  # run_predictions checked it
    codes = list(label_space.codes_)
    thresholds = rule_thresholds(artefact.thresholds, rule, len(codes))
    codes_arr = np.asarray(codes, dtype=object)
    descriptions = np.asarray(label_space.descriptions(), dtype=object)
    frames = []
    for name, p in preds.items():
        rows, labels, rank = forecast_rows(p.probs, thresholds, top_k)
        ids = task.prediction_frame(data, name, p, rows, labels)
        frame = ids.with_columns(
            pl.Series("rank", rank.astype(np.int32)),
            pl.Series("code", codes_arr[labels], dtype=pl.String),
            pl.Series("description", descriptions[labels], dtype=pl.String),
            pl.Series("probability", p.probs[rows, labels].astype(np.float32)),
            pl.Series("alert", p.probs[rows, labels] >= thresholds[labels]),
        )
        if p.evidence is not None:
            frame = frame.with_columns(spans_series(p.evidence, rows, labels, as_text=spans_as_text))
        frames.append(frame)
    table = pl.concat(frames)
    if task.frame_order:
        table = table.sort(list(task.frame_order))
    return table
