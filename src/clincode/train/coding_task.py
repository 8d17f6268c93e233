"""Config -> prepared text-coding task -> loaders, label statistics and word2vec (``data.task: coding``).

The prepared task is cached under ``<out_dir>/.cache/coding-<key>`` keyed by the data config and a
fingerprint of the notes files (names, sizes, modification times), so every run of a benchmark on
the same notes builds it once. word2vec matrices are cached beside it, one per (config, seed).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from rich.console import Console
from torch.utils.data import DataLoader

from clincode.config import RunConfig, TextDataConfig
from clincode.data.coding_data import CodingConfig, CodingData, build_coding, resolve_notes_source
from clincode.data.text_batches import CodingCollator, CodingDataset
from clincode.io import atomic_path
from clincode.losses import LabelStats
from clincode.train.launch import load_shared_cache


def text_config(cfg: RunConfig) -> TextDataConfig:
    if cfg.data.task != "coding" or cfg.data.text is None:
        raise ValueError("this run is not a coding run (data.task must be 'coding')")
    return cfg.data.text


def coding_config(text: TextDataConfig) -> CodingConfig:
    return CodingConfig(
        format=text.format,
        language=text.language,
        code_types=tuple(text.code_types),
        code_prefixes=None if text.code_prefixes is None else tuple(text.code_prefixes),
        on_error=text.on_error,
        max_tokens=text.max_tokens,
        min_df=text.min_df,
        min_label_count=text.min_label_count,
        num_labels=text.num_labels,
        tokenizer=text.tokenizer,
        noise_filter_tau=text.noise_filter_tau,
        noise_filter_encoder=text.noise_filter_encoder,
    )


def notes_fingerprint(path: Path) -> str:
    """Hash of every file's relative name, size and modification time under ``path`` (no data read)."""
    h = hashlib.sha256()
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(path) if f != path else f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def task_key(cfg: RunConfig) -> str:
    assert cfg.data.path is not None
    text = text_config(cfg)
    payload = {
        "path": str(Path(cfg.data.path).resolve()),
        "fingerprint": notes_fingerprint(Path(cfg.data.path)),
        "coding": coding_config(text).to_dict(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def cache_dir(cfg: RunConfig) -> Path:
    return Path(cfg.out_dir) / ".cache" / f"coding-{task_key(cfg)}"


def prepare_coding(cfg: RunConfig, *, console: Console | None = None) -> CodingData:
    """Build (or load from cache) the coding task described by ``cfg.data``."""
    console = console or Console(stderr=True)
    if cfg.data.path is None:
        raise ValueError(
            "data.path is not set: give a CodiEsp release directory or a notes table, e.g. --set data.path=../shared/data/codiesp"
        )
    text = text_config(cfg)
    resolve_notes_source(Path(cfg.data.path), text.format)  # clear error before any cache work
    cache = cache_dir(cfg)
    cached = load_shared_cache(cache, CodingData.load, console)  # torchrun / srun: the first process builds
    if cached is not None:
        return cached
    data = build_coding(Path(cfg.data.path), coding_config(text))
    data.save(cache, overwrite=True)
    rep = data.report
    console.print(
        f"coding task: {rep['documents']} documents, {rep['num_labels']} labels, {rep['num_ccs']} CCS, "
        f"vocabulary {rep['vocab_size']}; codes unseen in train: "
        + ", ".join(f"{s} {v['distinct']} ({v['occurrences']} occurrences)" for s, v in rep["unseen_codes"].items())
    )
    return data


def word2vec_matrix(cfg: RunConfig, data: CodingData) -> np.ndarray:
    """CBOW word2vec [len(vocab), embed_dim] on the training documents (cached per config and seed)."""
    text = text_config(cfg)
    path = cache_dir(cfg) / f"word2vec-d{text.embed_dim}-e{text.w2v_epochs}-s{cfg.seed}.npy"
    if path.is_file():
        matrix = np.load(path)
        if matrix.shape == (len(data.vocab), text.embed_dim):
            return matrix
    from clincode.data.notes.word2vec import train_word2vec

    matrix = train_word2vec(
        data.training_tokens(), data.vocab, dim=text.embed_dim, epochs=text.w2v_epochs, seed=cfg.seed, workers=1
    )
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, matrix)
    return matrix


def coding_loader(data: CodingData, split: str, cfg: RunConfig, *, shuffle: bool, eval: bool = False) -> DataLoader:
    """Length-bucketed loader of one split (shuffled pools for training, sorted for evaluation)."""
    from clincode.train.data import bucketed_loader

    multitask = cfg.data.text is not None and cfg.data.text.ccs
    collate = CodingCollator(data.num_labels, data.num_ccs if multitask else 0)
    return bucketed_loader(CodingDataset(data.split(split)), collate, cfg, shuffle=shuffle, eval=eval)


def _stats(lists: list[list[int]], num_labels: int) -> LabelStats:
    counts = np.asarray([len(x) for x in lists], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = np.asarray([i for x in lists for i in x], dtype=np.int64)
    positives = np.bincount(indices, minlength=num_labels).astype(np.int64)
    n = len(lists)
    return LabelStats(positives=positives, valid=np.full(num_labels, n, dtype=np.int64), n_rows=n, indptr=indptr, indices=indices)


def coding_label_stats(data: CodingData, split: str = "train") -> LabelStats:
    """ICD label statistics of a split as the loss sees its rows (one row per document, no -1)."""
    return _stats(data.split(split)["labels"].to_list(), data.num_labels)


def ccs_label_stats(data: CodingData, split: str = "train") -> LabelStats:
    """CCS label statistics of a split (one row per document)."""
    return _stats(data.split(split)["ccs"].to_list(), data.num_ccs)
