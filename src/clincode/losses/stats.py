"""Training-split label statistics that frequency-based losses are fitted on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse
from torch import Tensor


class LabelStatsError(ValueError):
    """Label statistics are inconsistent or do not match a loss."""


@dataclass(frozen=True, eq=False)  # numpy fields: no element-wise __eq__
class LabelStats:
    """Per-label counts over the training rows, plus each row's positive labels (optional CSR).

    Attributes:
        positives: int64 [V], rows where the label is 1.
        valid: int64 [V], rows where the label is not -1 (so negatives = valid - positives).
        n_rows: rows with at least one valid label (rows whose targets are all -1, e.g. padded
            visits, are not rows of the training split and are not counted) [ours].
        indptr: int64 [n_rows + 1] or None; row r's positive labels are
            ``indices[indptr[r]:indptr[r + 1]]`` (CSR, the rows counted in ``n_rows``).
        indices: int64 [nnz] or None.

    The CSR record is what SH needs for beta_SH (a row is a negative sample of segment r when it
    has no positive label in r) and what co-occurrence statistics are built from.
    """

    positives: np.ndarray
    valid: np.ndarray
    n_rows: int
    indptr: np.ndarray | None = None
    indices: np.ndarray | None = None

    def __post_init__(self) -> None:
        pos = np.asarray(self.positives)
        val = np.asarray(self.valid)
        if pos.ndim != 1 or val.shape != pos.shape:
            raise LabelStatsError(
                f"LabelStats.positives and .valid must both have shape [V], got {pos.shape} and {val.shape}"
            )
        if (pos < 0).any() or (pos > val).any():
            raise LabelStatsError("LabelStats.positives must satisfy 0 <= positives <= valid for every label")
        if int(self.n_rows) < 0 or (val.size and int(val.max()) > int(self.n_rows)):
            raise LabelStatsError("LabelStats.valid must not exceed n_rows for any label")
        object.__setattr__(self, "positives", pos.astype(np.int64, copy=False))
        object.__setattr__(self, "valid", val.astype(np.int64, copy=False))
        object.__setattr__(self, "n_rows", int(self.n_rows))
        if (self.indptr is None) != (self.indices is None):
            raise LabelStatsError("LabelStats.indptr and .indices must be given together (CSR) or both be None")
        if self.indptr is not None and self.indices is not None:
            indptr = np.asarray(self.indptr, dtype=np.int64)
            indices = np.asarray(self.indices, dtype=np.int64)
            if indptr.shape != (self.n_rows + 1,) or indptr[0] != 0 or indptr[-1] != indices.size:
                raise LabelStatsError(
                    f"LabelStats.indptr must have shape [n_rows + 1] = [{self.n_rows + 1}], start at 0 and end at "
                    f"len(indices) = {indices.size}"
                )
            if indices.size and (indices.min() < 0 or indices.max() >= pos.size):
                raise LabelStatsError(f"LabelStats.indices must lie in [0, V) = [0, {pos.size})")
            if not np.array_equal(np.bincount(indices, minlength=pos.size), pos):
                raise LabelStatsError("LabelStats.indices must hold exactly `positives[j]` occurrences of label j")
            object.__setattr__(self, "indptr", indptr)
            object.__setattr__(self, "indices", indices)

    @property
    def num_labels(self) -> int:
        return int(self.positives.size)

    @property
    def negatives(self) -> np.ndarray:
        """int64 [V], rows where the label is 0."""
        return self.valid - self.positives

    def prevalence(self) -> np.ndarray:
        """float64 [V], positives / valid rows per label (0 for a label with no valid row)."""
        return self.positives / np.maximum(self.valid, 1)

    @property
    def has_rows(self) -> bool:
        """True when the per-row CSR record of positive labels is present."""
        return self.indptr is not None

    @classmethod
    def from_targets(cls, chunks: Iterable[Tensor | np.ndarray], keep_rows: bool = True) -> LabelStats:
        """Accumulate statistics over chunks of targets [N_i, V] in {1, 0, -1}.

        Only one chunk is held densely at a time; with ``keep_rows`` the positive label indices of
        every row are kept (O(positives) memory) as CSR.
        """
        positives: np.ndarray | None = None
        valid: np.ndarray | None = None
        n_rows = 0
        counts: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        for i, chunk in enumerate(chunks):
            t = chunk.detach().cpu().numpy() if isinstance(chunk, Tensor) else np.asarray(chunk)
            if t.ndim != 2:
                raise LabelStatsError(f"targets chunk {i} must have shape [N, V], got {t.shape}")
            if positives is None:
                positives = np.zeros(t.shape[1], dtype=np.int64)
                valid = np.zeros(t.shape[1], dtype=np.int64)
            if t.shape[1] != positives.size:
                raise LabelStatsError(
                    f"targets chunk {i} has V = {t.shape[1]} columns, earlier chunks had {positives.size}"
                )
            if t.dtype != np.bool_ and not np.isin(t, (-1, 0, 1)).all():
                raise LabelStatsError(f"targets chunk {i} must only hold the values 1, 0 and -1")
            is_valid = t != -1
            keep = is_valid.any(axis=1)  # all-ignored rows (padding) are not rows [ours]
            is_pos = t[keep] == 1
            is_valid = is_valid[keep]
            positives += is_pos.sum(axis=0)
            assert valid is not None
            valid += is_valid.sum(axis=0)
            n_rows += int(keep.sum())
            if keep_rows:
                r, c = np.nonzero(is_pos)  # row-major, so each row's labels come out together
                counts.append(np.bincount(r, minlength=is_pos.shape[0]).astype(np.int64))
                cols.append(c.astype(np.int64))
        if positives is None or valid is None:
            raise LabelStatsError("LabelStats.from_targets received no chunks of targets")
        if not keep_rows:
            return cls(positives, valid, n_rows)
        row_counts = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(row_counts)]).astype(np.int64)
        indices = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        return cls(positives, valid, n_rows, indptr, indices)

    def select(self, labels: np.ndarray | list[int]) -> LabelStats:
        """Statistics restricted to a subset of label columns (in the given order), e.g. one segment.

        Rows keep their count (``n_rows``); the CSR record is re-indexed to the new columns.
        """
        labels = np.asarray(labels, dtype=np.int64)
        if labels.ndim != 1 or (labels.size and (labels.min() < 0 or labels.max() >= self.num_labels)):
            raise LabelStatsError(f"labels must be a 1-D array of indices in [0, {self.num_labels})")
        if self.indptr is None or self.indices is None:
            return LabelStats(self.positives[labels], self.valid[labels], self.n_rows)
        new_index = np.full(self.num_labels, -1, dtype=np.int64)
        new_index[labels] = np.arange(labels.size)
        mapped = new_index[self.indices]
        keep = mapped >= 0
        row_of = np.repeat(np.arange(self.n_rows), np.diff(self.indptr))
        counts = np.bincount(row_of[keep], minlength=self.n_rows)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return LabelStats(self.positives[labels], self.valid[labels], self.n_rows, indptr, mapped[keep])

    def row_matrix(self) -> sparse.csr_matrix:
        """Binary CSR matrix [n_rows, V] of positive labels (needs the per-row record)."""
        if self.indptr is None or self.indices is None:
            raise LabelStatsError(
                "these LabelStats have no per-row record of positive labels; build them with keep_rows=True"
            )
        data = np.ones(self.indices.size, dtype=np.float64)
        return sparse.csr_matrix((data, self.indices, self.indptr), shape=(self.n_rows, self.num_labels))

    def cooccurrence(self, top: int | None = None) -> sparse.csr_matrix:
        """Co-occurrence counts [V, V] (float64 CSR): entry (a, b) = rows with both a and b positive.

        The diagonal holds ``positives``. With ``top``, each label keeps only its ``top`` strongest
        off-diagonal partners, and the pattern is symmetrised (an edge kept by either end stays).
        """
        y = self.row_matrix()
        c = (y.T @ y).tocsr()
        if top is None:
            return c
        if top < 0:
            raise LabelStatsError(f"cooccurrence top must be >= 0, got {top}")
        off = c.tolil()
        off.setdiag(0)
        off = off.tocsr()
        off.eliminate_zeros()
        rows, cols, vals = [], [], []
        for a in range(self.num_labels):  # once per label at fit time, never in a training step
            start, end = off.indptr[a], off.indptr[a + 1]
            if end == start:
                continue
            order = np.argsort(-off.data[start:end], kind="stable")[:top]
            rows.append(np.full(order.size, a))
            cols.append(off.indices[start:end][order])
            vals.append(off.data[start:end][order])
        v = self.num_labels
        if rows:
            kept = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(v, v))
        else:
            kept = sparse.csr_matrix((v, v))
        kept = kept.maximum(kept.T)
        return (kept + sparse.diags(self.positives.astype(np.float64))).tocsr()


def as_tensor_counts(values: np.ndarray) -> torch.Tensor:
    """int64 tensor copy of a count array (for registered buffers)."""
    return torch.as_tensor(np.asarray(values, dtype=np.int64)).clone()
