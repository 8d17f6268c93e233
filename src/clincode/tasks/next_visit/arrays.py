"""Flat numpy arrays of one next-visit split: the memory-mappable form batches are cut from.

P patients, NV visits (all patients concatenated), NT tokens, NL label entries:

    subject_id     (P,)      int64
    sex            (P,)      int8     0 unknown, 1 F, 2 M
    visit_offsets  (P + 1,)  int64    patient p's visits are rows visit_offsets[p]:visit_offsets[p + 1]
    visit_time     (NV,)     int64    epoch seconds
    age            (NV,)     float32  years, NaN when unknown
    token_offsets  (NV + 1,) int64    visit v's tokens are token_offsets[v]:token_offsets[v + 1]
    tokens         (NT,)     int32    Vocab ids
    token_time     (NT,)     int64    epoch seconds
    label_offsets  (NV + 1,) int64    visit v's labels are label_offsets[v]:label_offsets[v + 1]
    labels         (NL,)     int32    LabelSpace columns

Saved as one ``.npy`` per array in ``TASK_DIR/arrays/{split}/`` and opened with
``np.load(mmap_mode="r")``: a training epoch then reads pages on demand from the OS page cache
instead of holding the split in process memory, and forked DataLoader workers share the pages.
Token and label ids are stored as int32 (half the bytes of int64; V and the vocabulary are far
below 2**31); the dataset widens each sample's slice to int64.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from clincode.data.errors import DataError, DataNotFoundError

ARRAYS_DIR = "arrays"

# name -> (dtype, length kind): "P" patients, "V" visits, "T" tokens, "L" labels, "+1" offsets.
ARRAY_LAYOUT: dict[str, tuple[type, str]] = {
    "subject_id": (np.int64, "P"),
    "sex": (np.int8, "P"),
    "visit_offsets": (np.int64, "P+1"),
    "visit_time": (np.int64, "V"),
    "age": (np.float32, "V"),
    "token_offsets": (np.int64, "V+1"),
    "tokens": (np.int32, "T"),
    "token_time": (np.int64, "T"),
    "label_offsets": (np.int64, "V+1"),
    "labels": (np.int32, "L"),
}

TABLE_COLUMNS = ("subject_id", "sex", "visit_time", "age", "tokens", "token_time", "labels")


@dataclass(frozen=True)
class SplitSizes:
    """Lengths of a split's flat arrays: patients, visits, tokens, label entries."""

    patients: int
    visits: int
    tokens: int
    labels: int

    def length(self, kind: str) -> int:
        base = {"P": self.patients, "V": self.visits, "T": self.tokens, "L": self.labels}[kind[0]]
        return base + 1 if kind.endswith("+1") else base

    def __add__(self, other: SplitSizes) -> SplitSizes:
        return SplitSizes(
            self.patients + other.patients,
            self.visits + other.visits,
            self.tokens + other.tokens,
            self.labels + other.labels,
        )


@dataclass
class FlatSplit:
    """One split as flat arrays (see the module docstring); ``source`` is set when memory-mapped."""

    subject_id: np.ndarray
    sex: np.ndarray
    visit_offsets: np.ndarray
    visit_time: np.ndarray
    age: np.ndarray
    token_offsets: np.ndarray
    tokens: np.ndarray
    token_time: np.ndarray
    label_offsets: np.ndarray
    labels: np.ndarray
    source: Path | None = None

    @property
    def sizes(self) -> SplitSizes:
        return SplitSizes(len(self.subject_id), len(self.visit_time), len(self.tokens), len(self.labels))

    @classmethod
    def from_table(cls, table: pl.DataFrame | pa.Table) -> FlatSplit:
        """Arrays of a task table (one row per patient) via Arrow offsets: no per-row Python."""
        names = table.columns if isinstance(table, pl.DataFrame) else table.column_names
        missing = [c for c in TABLE_COLUMNS if c not in names]
        if missing:
            raise ValueError(f"next-visit table lacks column(s) {missing}; expected a NextVisitData split table.")
        col = (lambda c: table[c].to_arrow()) if isinstance(table, pl.DataFrame) else (lambda c: table.column(c))
        vt, visit_offsets = _ragged(col("visit_time"))  # (P + 1,) into visits
        age, _ = _ragged(col("age"))
        tok_lists, _ = _ragged(col("tokens"))
        tok_values, token_offsets = _ragged(tok_lists)  # (NV + 1,) into tokens
        time_lists, _ = _ragged(col("token_time"))
        time_values, time_offsets = _ragged(time_lists)
        if not np.array_equal(time_offsets, token_offsets):
            raise ValueError("next-visit table columns 'tokens' and 'token_time' have different shapes; expected equal.")
        lab_lists, _ = _ragged(col("labels"))
        lab_values, label_offsets = _ragged(lab_lists)  # (NV + 1,) into labels
        return cls(
            subject_id=_flat_numpy(col("subject_id"), np.int64),
            sex=_flat_numpy(col("sex"), np.int8),
            visit_offsets=visit_offsets,
            visit_time=_flat_numpy(vt, np.int64),
            age=_flat_numpy(age, np.float32),
            token_offsets=token_offsets,
            tokens=_flat_numpy(tok_values, np.int32),
            token_time=_flat_numpy(time_values, np.int64),
            label_offsets=label_offsets,
            labels=_flat_numpy(lab_values, np.int32),
        )

    def save(self, task_dir: Path, split: str) -> None:
        """Write the arrays under ``task_dir/arrays/{split}/`` (callers write into a temp dir)."""
        writer = FlatSplitWriter(task_dir, split, self.sizes)
        writer.append(self)
        writer.close()

    # Pickling a memory-mapped split (DataLoader workers under spawn) sends its path, not its bytes.
    def __getstate__(self) -> dict[str, Any]:
        if self.source is not None:
            return {"source": self.source}
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "subject_id" not in state:
            state = {f.name: getattr(_open(state["source"]), f.name) for f in fields(self)}
        for name, value in state.items():
            object.__setattr__(self, name, value)


def arrays_dir(task_dir: str | Path, split: str) -> Path:
    return Path(task_dir) / ARRAYS_DIR / split


def has_arrays(task_dir: str | Path, split: str) -> bool:
    return (arrays_dir(task_dir, split) / "subject_id.npy").is_file()


def load_flat(task_dir: str | Path, split: str) -> FlatSplit:
    """Memory-map the arrays of one saved split (read-only)."""
    folder = arrays_dir(task_dir, split)
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder} does not exist; expected the arrays of split {split!r} of a saved next-visit task.")
    return _open(folder)


def _open(folder: Path) -> FlatSplit:
    arrays: dict[str, np.ndarray] = {}
    for name, (dtype, _) in ARRAY_LAYOUT.items():
        path = folder / f"{name}.npy"
        if not path.is_file():
            raise DataNotFoundError(f"{path} does not exist; expected part of a saved next-visit task.")
        arr = np.load(path, mmap_mode="r")
        if arr.dtype != dtype or arr.ndim != 1:
            raise DataError(f"{path} holds a {arr.ndim}-d {arr.dtype} array; expected 1-d {np.dtype(dtype)}.")
        arrays[name] = arr
    flat = FlatSplit(**arrays, source=folder)
    n = flat.sizes
    for name, (_, kind) in ARRAY_LAYOUT.items():
        if len(arrays[name]) != n.length(kind):
            raise DataError(f"{folder / name}.npy has {len(arrays[name])} entries; expected {n.length(kind)} ({kind}).")
    return flat


class FlatSplitWriter:
    """Write a split's ``.npy`` files chunk by chunk (patients in order), sizes known up front.

    Each file gets its header (the final shape) first and then the chunks appended with plain
    sequential writes: peak memory is one chunk, and no written page is mapped into the process.
    """

    def __init__(self, task_dir: Path, split: str, sizes: SplitSizes) -> None:
        self.folder = arrays_dir(task_dir, split)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.sizes = sizes
        self.done = SplitSizes(0, 0, 0, 0)
        self.files = {}
        for name, (dtype, kind) in ARRAY_LAYOUT.items():
            fh = open(self.folder / f"{name}.npy", "wb")
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": (sizes.length(kind),)}
            np.lib.format.write_array_header_1_0(fh, header)
            self.files[name] = fh
        for name in ("visit_offsets", "token_offsets", "label_offsets"):
            self._write(name, np.zeros(1, dtype=np.int64))  # entry 0; chunks append their ends

    def _write(self, name: str, values: np.ndarray) -> None:
        self.files[name].write(np.ascontiguousarray(values, dtype=ARRAY_LAYOUT[name][0]).tobytes())

    def append(self, chunk: FlatSplit) -> None:
        d, n = self.done, chunk.sizes
        if any(getattr(d + n, k) > getattr(self.sizes, k) for k in ("patients", "visits", "tokens", "labels")):
            raise ValueError(f"chunk of {n} overflows the sizes {self.sizes} given for {self.folder}.")
        for name in ("subject_id", "sex", "visit_time", "age", "tokens", "token_time", "labels"):
            self._write(name, getattr(chunk, name))
        # Offsets are relative to the chunk: shift by what is written already (entry 0 is shared).
        self._write("visit_offsets", chunk.visit_offsets[1:] + d.visits)
        self._write("token_offsets", chunk.token_offsets[1:] + d.tokens)
        self._write("label_offsets", chunk.label_offsets[1:] + d.labels)
        self.done = d + n

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()
        self.files.clear()
        if self.done != self.sizes:
            raise ValueError(f"{self.folder}: wrote {self.done}, expected {self.sizes}.")


def table_sizes(table: pl.DataFrame | pa.Table) -> SplitSizes:
    """Flat-array lengths of a task table, without building the arrays."""
    col = (lambda c: table[c].to_arrow()) if isinstance(table, pl.DataFrame) else (lambda c: table.column(c))
    visits, _ = _ragged(col("visit_time"))
    tok_lists, _ = _ragged(col("tokens"))
    tokens, _ = _ragged(tok_lists)
    lab_lists, _ = _ragged(col("labels"))
    labels, _ = _ragged(lab_lists)
    return SplitSizes(len(table), len(visits), len(tokens), len(labels))


def _ragged(column: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """(values, offsets) of a List column: exact for empty lists and sliced arrays."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    offsets = np.asarray(arr.offsets, dtype=np.int64)
    values = arr.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    return values, offsets - offsets[0]


def _flat_numpy(values: pa.Array | pa.ChunkedArray, dtype: type) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=dtype)
