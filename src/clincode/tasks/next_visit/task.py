"""The next-visit task (``data.task: next_visit``): a patient's history -> the codes of the next visit.

The prepared task is cached under ``<out_dir>/.cache/next_visit-<key>``, keyed by the data config
and a fingerprint of the dataset files, so every run of a benchmark on the same cohort builds it
once (streamed into the cache with bounded memory, returned memory-mapped from there).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl
import torch
from rich.console import Console
from torch import Tensor
from torch.utils.data import DataLoader

from clincode.config import RunConfig
from clincode.data.labels import LabelSpace
from clincode.data.splits import SPLIT_NAMES
from clincode.data.vocab import UNK_ID, Vocab
from clincode.forecasters import BASELINES, FORECASTERS, Histories, default_references
from clincode.forecasters.baselines import RepeatTableForecaster
from clincode.launch import load_shared_cache
from clincode.losses import HasPriorProbability, LabelStats, build_loss
from clincode.metrics.repeat_explore import repeat_explore
from clincode.models import LabelCountsHook, OutputBiasHook, RepeatTableHook, build_model
from clincode.registry import Registry
from clincode.tasks.base import (
    TASKS,
    Keep,
    OnePassFit,
    Predictions,
    RunParts,
    files_fingerprint,
    task_params,
    token_unknown_share,
)
from clincode.tasks.next_visit.batches import NextVisitCollator, next_visit_dataset
from clincode.tasks.next_visit.build import build_next_visit
from clincode.tasks.next_visit.data import NextVisitData
from clincode.tasks.next_visit.params import NextVisitParams
from clincode.tasks.params import TaskParams
from clincode.tasks.sampler import bucketed_loader


def task_kwargs(cfg: RunConfig) -> dict[str, Any]:
    """Keyword arguments of :func:`build_next_visit` for a run config (shared by train and predict)."""
    return task_params(cfg, NextVisitParams).build_kwargs() | {"progress": cfg.trainer.progress}


def next_visit_histories(data: NextVisitData, split: str, *, keep: Keep = "targets", source: Path | None = None) -> Histories:
    """The label histories of one split (what a one-pass forecaster reads), rows in array order."""
    a = data.arrays(split)
    return Histories.from_arrays(
        num_labels=data.num_labels,
        label_codes=tuple(data.label_space.codes_),
        subject_id=a.subject_id,
        sex=a.sex,
        visit_offsets=a.visit_offsets,
        visit_time=a.visit_time,
        age=a.age,
        label_offsets=a.label_offsets,
        labels=a.labels,
        keep=keep,
        source=source,
    )


def next_visit_label_stats(data: NextVisitData, split: str = "train") -> LabelStats:
    """Training label statistics, exactly as the loss sees its rows.

    A row is (patient, visit t) for every visit but the last; its positives are visit t+1's labels.
    """
    ds = next_visit_dataset(data, split)
    num_labels = data.num_labels
    per_visit = np.diff(ds.label_offsets)  # labels of each visit, all patients concatenated
    first_visit = ds.visit_offsets[:-1]
    # Rows are all visits except each patient's first one, read as "the next visit" of the row before.
    is_target_visit = np.ones(len(per_visit), dtype=bool)
    is_target_visit[first_visit[first_visit < len(per_visit)]] = False
    counts = per_visit[is_target_visit]
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    starts = ds.label_offsets[:-1][is_target_visit]
    if counts.sum():
        idx = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
        indices = ds.labels[idx].astype(np.int64)
    else:
        indices = np.zeros(0, dtype=np.int64)
    n_rows = int(is_target_visit.sum())
    positives = np.bincount(indices, minlength=num_labels).astype(np.int64)
    valid = np.full(num_labels, n_rows, dtype=np.int64)
    return LabelStats(positives=positives, valid=valid, n_rows=n_rows, indptr=indptr, indices=indices)


@TASKS.register("next_visit")
class NextVisitTask:
    """Forecast every label code of each patient's next visit from the visits so far."""

    name: ClassVar[str] = "next_visit"
    params: ClassVar[type[TaskParams]] = NextVisitParams
    unit: ClassVar[str] = "patient"
    one_pass: ClassVar[Registry[type[Any]]] = FORECASTERS
    output_formats: ClassVar[tuple[str, ...]] = ("table",)
    frame_order: ClassVar[tuple[str, ...]] = ("subject_id", "visit_index", "rank")

    def key(self, cfg: RunConfig) -> str:
        assert cfg.data.path is not None
        payload: dict[str, Any] = {"task": self.name, "params": task_params(cfg, NextVisitParams).model_dump(mode="json")}
        payload["path"] = str(Path(cfg.data.path).resolve())
        payload["fingerprint"] = files_fingerprint(Path(cfg.data.path), ("*.parquet", "*.json"))
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def prepare(self, cfg: RunConfig, *, console: Console | None = None) -> NextVisitData:
        if cfg.data.path is None:
            raise ValueError(
                "data.path is not set: give a MEDS dataset directory (e.g. from `clincode synth ehr`) with --set data.path=DIR"
            )
        path = Path(cfg.data.path)
        if not path.exists():
            raise FileNotFoundError(f"data.path {path} does not exist")
        cache = Path(cfg.out_dir) / ".cache" / f"next_visit-{self.key(cfg)}"
        cached = load_shared_cache(cache, NextVisitData.load, console or Console(stderr=True))  # torchrun / srun: the first process builds
        if cached is not None:
            return cached
        return build_next_visit(path, **task_kwargs(cfg), out_dir=cache, overwrite=True)

    def prepare_for_predict(self, cfg: RunConfig, path: Path, label_space: LabelSpace, vocab: dict[str, Any]) -> NextVisitData:
        kwargs = task_kwargs(cfg)
        kwargs["min_visits"] = 1  # a patient with one visit still gets a forecast
        return build_next_visit(path, **kwargs, fitted=(label_space, Vocab.from_dict(vocab)), allow_empty_splits=True)

    def build_in_memory(self, path: Path, cfg: RunConfig | None = None, **settings: Any) -> NextVisitData:
        """The next-visit data of the MEDS directory ``path``, built in memory (no cache, no progress bar).

        The data settings of ``cfg`` (:func:`build_next_visit`'s defaults without it), then
        ``settings`` on top, as keyword arguments of :func:`build_next_visit`.
        """
        kwargs = (task_kwargs(cfg) if cfg is not None else {}) | {"progress": False} | settings
        return build_next_visit(Path(path), **kwargs)

    def loader(self, data: NextVisitData, split: str, cfg: RunConfig, *, shuffle: bool, eval: bool = False) -> DataLoader:
        return bucketed_loader(next_visit_dataset(data, split), NextVisitCollator(data.num_labels), cfg, shuffle=shuffle, eval=eval)

    def label_stats(self, data: NextVisitData, split: str = "train") -> LabelStats:
        return next_visit_label_stats(data, split)

    def build_parts(self, cfg: RunConfig, data: NextVisitData) -> RunParts:
        num_labels = data.num_labels
        model = build_model(cfg.model.name, vocab_size=len(data.vocab), num_labels=num_labels, params=cfg.model.params)
        stats = self.label_stats(data)
        if isinstance(model, LabelCountsHook):  # per-segment models: segments from the training counts
            model.set_label_counts(stats.positives)
        criterion = build_loss(cfg.loss.name, num_labels, **cfg.loss.params)
        criterion.fit(stats)
        if isinstance(model, OutputBiasHook):  # [ours] prior_bias: head bias at the loss's favoured constant
            prevalence = torch.as_tensor(stats.prevalence())
            favoured = criterion.prior_probability(prevalence) if isinstance(criterion, HasPriorProbability) else prevalence
            model.init_output_bias(favoured)
        if isinstance(model, RepeatTableHook):  # [ours] repeat_init: table (a no-op when off)
            table = RepeatTableForecaster("last_earlier", smoothing=1.0).fit(next_visit_histories(data, "train"))
            assert table.never_ is not None and table.cells_ is not None
            model.init_from_repeat_table(table.never_, table.cells_[0], table.cells_[1])
        return RunParts(model, criterion, dict(cfg.model.params), len(data.vocab), num_labels)

    def reference_models(self, cfg: RunConfig) -> list[str]:
        """The history baselines (and the oracle of a synthetic cohort at code level) beside a network."""
        if cfg.model.name in FORECASTERS:
            return []
        if cfg.data.path is None:
            return list(BASELINES)
        return default_references(cfg.data.path, task_params(cfg, NextVisitParams).label_level)

    # -- one-pass forecasters (clincode.forecasters): fitted on the training histories -------------
    def check_one_pass(self, name: str, params: dict[str, Any]) -> None:
        FORECASTERS.check_params(name, params)
        FORECASTERS.get(name)(**params)  # the constructor checks the values

    def fit_one_pass(self, cfg: RunConfig, data: NextVisitData, *, console: Console) -> OnePassFit:
        """Fit the forecaster of ``cfg`` on the training histories (settings chosen on the tuning split)."""
        source = None if cfg.data.path is None else Path(cfg.data.path)
        model = FORECASTERS.get(cfg.model.name)(**cfg.model.params)
        tuning = next_visit_histories(data, "tuning", source=source) if data.split("tuning").height else None
        model.fit(next_visit_histories(data, "train", source=source), tuning)
        return OnePassFit(model, data.label_space)

    def predict_one_pass(
        self, model: Any, cfg: RunConfig, data: NextVisitData, split: str, *, path: Path | None = None, keep: Keep = "targets",
        evidence: bool = False,
    ) -> Predictions:
        """Forecasts of a split's rows (``evidence`` is for coders of text; forecasts have none)."""
        source = path if path is not None else (None if cfg.data.path is None else Path(cfg.data.path))
        h = next_visit_histories(data, split, keep=keep, source=source)
        if not len(h):
            raise ValueError("no rows to predict: the split is empty")
        probs = np.clip(np.asarray(model.predict_proba(h), dtype=np.float32), 0.0, 1.0)
        return Predictions(
            probs=probs,
            targets=h.target_matrix(),
            subject_id=h.subject_id[h.row_patient],
            visit_index=h.row_visit_index,
            visit_time=h.visit_time[h.rows],
        )

    def batch_rows(self, logits: Tensor, batch: dict[str, Tensor], keep: Keep) -> dict[str, np.ndarray]:
        """Logits [B, T, V] -> one row per visit: with a scored target (``targets``) or every real visit."""
        b, t, v = logits.shape
        targets = batch["targets"]
        mask = (targets != -1).any(dim=2) if keep == "targets" else batch["visit_mask"]
        rows = mask.reshape(-1)
        return {
            "probs": torch.sigmoid(logits).reshape(-1, v)[rows].numpy(),
            "targets": targets.reshape(-1, v)[rows].to(torch.int8).numpy(),
            "subject_id": batch["subject_id"].unsqueeze(1).expand(b, t).reshape(-1)[rows].numpy(),
            "visit_index": torch.arange(t).expand(b, t).reshape(-1)[rows].numpy(),
            "visit_time": batch["visit_time"].reshape(-1)[rows].numpy(),
        }

    def prediction_frame(self, data: NextVisitData, split: str, preds: Predictions, rows: np.ndarray, labels: np.ndarray) -> pl.DataFrame:
        """Identifying columns of the listed (row, label) pairs of one split."""
        return pl.DataFrame(
            {
                "subject_id": preds.subject_id[rows],
                "split": np.full(len(rows), split, dtype=object),
                "visit_index": preds.visit_index[rows],
                "visit_time": (preds.visit_time[rows] * 1_000_000).astype("datetime64[us]"),
            }
        )

    def write_output(
        self, fmt: str, out_file: Path, data: NextVisitData, preds: dict[str, Predictions], codes: Sequence[str], top_k: int
    ) -> int:
        raise ValueError(f"--format {fmt!r} is not an output of next-visit runs (use --format table)")

    def extra_metrics(self, preds: Predictions, data: NextVisitData, split: str, *, ks: Sequence[int] = (5, 8, 15)) -> dict[str, Any]:
        """Repeat and explore scores (:mod:`clincode.metrics.repeat_explore`) of the split's rows."""
        h = next_visit_histories(data, split, keep="visits")
        index = {int(s): p for p, s in enumerate(h.subject_id)}
        try:
            patient = np.fromiter((index[int(s)] for s in preds.subject_id), dtype=np.int64, count=len(preds))
        except KeyError as exc:
            raise ValueError(f"prediction rows of subject {exc} are not in split {split!r}") from None
        rows = h.visit_offsets[patient] + np.asarray(preds.visit_index, dtype=np.int64)
        mask = replace(h, rows=rows).history_mask()
        return {"repeat_explore": repeat_explore(preds.probs, preds.targets, mask, ks)}

    def unknown_share(self, data: NextVisitData) -> tuple[float, int] | None:
        return token_unknown_share([data.arrays(name).tokens for name in SPLIT_NAMES if data.split(name).height], UNK_ID)
