"""Config -> prepared task data -> loaders: the one place where data config reaches the code.

The prepared next-visit task is cached under ``<out_dir>/.cache/`` keyed by the data config and
a fingerprint of the dataset files, so every run of a benchmark on the same cohort builds it once.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from torch.utils.data import DataLoader

from clincode.config import RunConfig
from clincode.data.batches import LengthBucketBatchSampler, NextVisitCollator, NextVisitDataset, next_visit_dataset
from clincode.data.coding_data import CodingData
from clincode.data.next_visit_data import NextVisitData
from clincode.data.tasks import build_next_visit
from clincode.losses import LabelStats
from clincode.train.launch import load_shared_cache


def dataset_fingerprint(path: Path) -> str:
    """Hash of the dataset's file names, sizes and modification times (cheap, no data read)."""
    h = hashlib.sha256()
    for f in sorted(Path(path).rglob("*.parquet")) + sorted(Path(path).rglob("*.json")):
        st = f.stat()
        h.update(f"{f.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def task_key(cfg: RunConfig) -> str:
    assert cfg.data.path is not None
    payload = cfg.data.model_dump(mode="json")
    if payload.get("text") is None:  # next-visit runs: keys as before the coding task existed
        payload.pop("text", None)
    payload["path"] = str(Path(cfg.data.path).resolve())
    payload["fingerprint"] = dataset_fingerprint(Path(cfg.data.path))
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def task_kwargs(cfg: RunConfig) -> dict[str, Any]:
    """Keyword arguments of :func:`build_next_visit` for a run config (shared by train and predict)."""
    return dict(
        num_labels=cfg.data.num_labels,
        label_level=cfg.data.label_level,
        visit_window=None if cfg.data.visit_window_hours is None else timedelta(hours=cfg.data.visit_window_hours),
        max_visits=cfg.data.max_visits,
        max_codes_per_visit=cfg.data.max_codes_per_visit,
        min_code_count=cfg.data.min_code_count,
        progress=cfg.trainer.progress,
    )


def prepare(cfg: RunConfig, *, console: Console | None = None) -> NextVisitData | CodingData:
    """Build (or load from cache) the task described by ``cfg.data`` (next-visit or coding)."""
    console = console or Console(stderr=True)
    if cfg.data.task == "coding":
        from clincode.train.coding_task import prepare_coding

        return prepare_coding(cfg, console=console)
    if cfg.data.path is None:
        raise ValueError("data.path is not set: give a MEDS dataset directory (e.g. from `clincode synth ehr`) with --set data.path=DIR")
    path = Path(cfg.data.path)
    if not path.exists():
        raise FileNotFoundError(f"data.path {path} does not exist")
    cache = Path(cfg.out_dir) / ".cache" / f"next_visit-{task_key(cfg)}"
    cached = load_shared_cache(cache, NextVisitData.load, console)  # torchrun / srun: the first process builds
    if cached is not None:
        return cached
    # Streamed into the cache with bounded memory, returned memory-mapped from there.
    return build_next_visit(path, **task_kwargs(cfg), out_dir=cache, overwrite=True)


def loader(data: NextVisitData | CodingData, split: str, cfg: RunConfig, *, shuffle: bool, eval: bool = False) -> DataLoader:
    """Length-bucketed loader of one split (shuffled pools for training, sorted for evaluation)."""
    if isinstance(data, CodingData):
        from clincode.train.coding_task import coding_loader

        return coding_loader(data, split, cfg, shuffle=shuffle, eval=eval)
    return bucketed_loader(next_visit_dataset(data, split), NextVisitCollator(data.num_labels), cfg, shuffle=shuffle, eval=eval)


def bucketed_loader(dataset: Any, collate: Any, cfg: RunConfig, *, shuffle: bool, eval: bool) -> DataLoader:
    """DataLoader over a dataset with ``num_tokens()``: length-bucketed batches of the configured size."""
    batch_size = cfg.trainer.eval_batch_size if eval else cfg.trainer.batch_size
    sampler = LengthBucketBatchSampler(dataset.num_tokens(), batch_size, shuffle=shuffle, seed=cfg.seed)
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=cfg.trainer.num_workers,
        persistent_workers=cfg.trainer.num_workers > 0,
    )


def label_stats(data: NextVisitData | CodingData, split: str = "train") -> LabelStats:
    """Training label statistics, exactly as the loss sees its rows.

    Next visit: a row is (patient, visit t) for every visit but the last; its positives are visit
    t+1's labels. Coding: a row is a document.
    """
    if isinstance(data, CodingData):
        from clincode.train.coding_task import coding_label_stats

        return coding_label_stats(data, split)
    ds: NextVisitDataset = next_visit_dataset(data, split)
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
