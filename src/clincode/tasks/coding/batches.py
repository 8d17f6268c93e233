"""Torch dataset and collate function for the text-coding task (one row per document).

Batch contract (the text models' contract of :mod:`clincode.models.text` plus targets), B
documents, T tokens (the longest document of the batch, at least 1), V ICD labels, C CCS labels:

    tokens       LongTensor  [B, T]  token ids, right-padded with PAD = 0
    token_mask   BoolTensor  [B, T]  True on real tokens (a prefix of each row; all False for an
                                     empty document)
    targets      Int8Tensor  [B, V]  1 if the label is a gold code of the document, else 0 (no -1:
                                     every entry of a document is scored)
    ccs_targets  Int8Tensor  [B, C]  the same for the CCS categories (only when C > 0)
    doc_index    LongTensor  [B]     row of the document in its split table
    subject_id   LongTensor  [B]     the document's subject as an integer index within the split
                                     (the bootstrap's resampling unit)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import numpy as np
import polars as pl
import pyarrow as pa
import torch
from torch.utils.data import Dataset

from clincode.data.notes import PAD_ID


class CodingSample(TypedDict):
    index: int
    subject: int
    tokens: np.ndarray  # (n,) int64
    labels: np.ndarray  # (m,) int64
    ccs: np.ndarray  # (k,) int64


def _ragged(column: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(flat int64 values, offsets [N + 1]) of a List(Int) column, without per-row Python."""
    arr = column.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    offsets = np.asarray(arr.offsets, dtype=np.int64)
    values = arr.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    flat = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)
    return flat, offsets - offsets[0]


class CodingDataset(Dataset[CodingSample]):
    """One split of a :class:`clincode.tasks.coding.build.CodingData` as flat numpy arrays."""

    def __init__(self, table: pl.DataFrame) -> None:
        for col in ("doc_id", "subject_id", "tokens", "labels", "ccs"):
            if col not in table.columns:
                raise ValueError(f"coding split table lacks column {col!r}; expected a CodingData split table.")
        self.doc_id = table["doc_id"].to_list()
        subjects = table["subject_id"].to_numpy().astype(str)
        _, self.subject = np.unique(subjects, return_inverse=True)
        self.subject = self.subject.astype(np.int64)
        self.tokens, self.token_offsets = _ragged(table["tokens"])
        self.labels, self.label_offsets = _ragged(table["labels"])
        self.ccs, self.ccs_offsets = _ragged(table["ccs"])

    def __len__(self) -> int:
        return len(self.doc_id)

    def num_tokens(self) -> np.ndarray:
        """(N,) tokens per document (for length bucketing)."""
        return np.diff(self.token_offsets)

    def __getitem__(self, index: int) -> CodingSample:
        def part(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
            return values[offsets[index] : offsets[index + 1]]

        return CodingSample(
            index=int(index),
            subject=int(self.subject[index]),
            tokens=part(self.tokens, self.token_offsets),
            labels=part(self.labels, self.label_offsets),
            ccs=part(self.ccs, self.ccs_offsets),
        )


def collate_coding(samples: Sequence[CodingSample], num_labels: int, num_ccs: int = 0) -> dict[str, torch.Tensor]:
    """Pad samples into the batch contract of this module's docstring."""
    if not samples:
        raise ValueError("collate_coding got an empty list of samples; expected at least one.")
    b = len(samples)
    t = max(max(len(s["tokens"]) for s in samples), 1)
    tokens = np.full((b, t), PAD_ID, dtype=np.int64)
    mask = np.zeros((b, t), dtype=bool)
    targets = np.zeros((b, num_labels), dtype=np.int8)
    ccs = np.zeros((b, num_ccs), dtype=np.int8)
    for i, s in enumerate(samples):
        n = len(s["tokens"])
        tokens[i, :n] = s["tokens"]
        mask[i, :n] = True
        targets[i, s["labels"]] = 1
        if num_ccs:
            ccs[i, s["ccs"]] = 1
    batch = {
        "tokens": torch.from_numpy(tokens),
        "token_mask": torch.from_numpy(mask),
        "targets": torch.from_numpy(targets),
        "doc_index": torch.tensor([s["index"] for s in samples], dtype=torch.long),
        "subject_id": torch.tensor([s["subject"] for s in samples], dtype=torch.long),
    }
    if num_ccs:
        batch["ccs_targets"] = torch.from_numpy(ccs)
    return batch


class CodingCollator:
    """Picklable ``collate_fn``: ``CodingCollator(V, C)(samples)``."""

    def __init__(self, num_labels: int, num_ccs: int = 0) -> None:
        if num_labels < 1 or num_ccs < 0:
            raise ValueError(f"CodingCollator needs num_labels >= 1 and num_ccs >= 0, got {num_labels} and {num_ccs}.")
        self.num_labels = num_labels
        self.num_ccs = num_ccs

    def __call__(self, samples: Sequence[CodingSample]) -> dict[str, torch.Tensor]:
        return collate_coding(samples, self.num_labels, self.num_ccs)
