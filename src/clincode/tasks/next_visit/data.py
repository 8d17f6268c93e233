"""The prepared next-visit task: per split, one row per patient with its visit sequence.

Per-split table (polars DataFrame, one row per patient, sorted by subject_id):

    subject_id  Int64
    sex         Int8               0 unknown, 1 female (GENDER//F), 2 male (GENDER//M)
    visit_time  List(Int64)        (T,) epoch seconds of each visit = its last event, the prediction time
    age         List(Float32)      (T,) age in years at visit_time; NaN when the birth date is unknown
    tokens      List(List(Int32))  (T, n_t) input token ids (Vocab) of each visit, in time order
    token_time  List(List(Int64))  (T, n_t) epoch seconds of each token's event
    labels      List(List(Int32))  (T, m_t) label columns (LabelSpace) of each visit, sorted; may be empty

Saved as ``DIR/{split}.parquet``, the split's flat arrays ``DIR/arrays/{split}/*.npy`` (see
:mod:`clincode.tasks.next_visit.arrays`), ``label_space.json``, ``vocab.json`` and ``task.json`` (build
config, stats, format version), written to a temp directory and renamed into place. A loaded task
reads a split's table only when asked for it and memory-maps its arrays, so training on a loaded
task does not hold the cohort in process memory.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clincode.data.errors import DataError, DataNotFoundError
from clincode.data.labels import LabelSpace
from clincode.data.splits import SPLIT_NAMES
from clincode.data.vocab import Vocab
from clincode.io import replace_dir
from clincode.tasks.next_visit.arrays import FlatSplit, has_arrays, load_flat

# 2 added the flat arrays; a format-1 task (tables only) still loads, its arrays built in memory.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)

TASK_SCHEMA: dict[str, pl.DataType] = {
    "subject_id": pl.Int64(),
    "sex": pl.Int8(),
    "visit_time": pl.List(pl.Int64()),
    "age": pl.List(pl.Float32()),
    "tokens": pl.List(pl.List(pl.Int32())),
    "token_time": pl.List(pl.List(pl.Int64())),
    "labels": pl.List(pl.List(pl.Int32())),
}


@dataclass(frozen=True)
class NextVisitConfig:
    """Build parameters of a next-visit task (saved with it; JSON-able): the run's ``data.params``
    (:class:`~clincode.tasks.next_visit.params.NextVisitParams`, in its units) plus what the builder
    sets itself.

    ``visit_window_hours`` None means a visit is all events sharing one timestamp.
    """

    num_labels: int | None = 1538
    label_level: str = "code"
    code_prefixes: tuple[str, ...] = ("ICD10CM//", "ICD9CM//")
    visit_window_hours: float | None = None
    max_visits: int = 64
    max_codes_per_visit: int = 64
    min_code_count: int = 1
    min_visits: int = 2

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["code_prefixes"] = list(self.code_prefixes)
        return out

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> NextVisitConfig:
        state = dict(state)
        state["code_prefixes"] = tuple(state["code_prefixes"])
        if "visit_window_seconds" in state:  # tasks saved before the window was kept in hours
            seconds = state.pop("visit_window_seconds")
            state["visit_window_hours"] = None if seconds is None else seconds / 3600
        return cls(**state)


@dataclass(frozen=True)
class PatientVisits:
    """One patient's visit sequence as numpy arrays (T visits)."""

    subject_id: int
    sex: int
    visit_time: np.ndarray  # (T,) int64 epoch seconds
    age: np.ndarray  # (T,) float32 years, NaN if unknown
    tokens: list[np.ndarray]  # T arrays of int32 token ids
    token_time: list[np.ndarray]  # T arrays of int64 epoch seconds
    labels: list[np.ndarray]  # T arrays of int32 label columns


@dataclass
class NextVisitData:
    """A prepared next-visit task: per-split patient tables, the fitted LabelSpace and Vocab.

    Attributes:
        splits: split name -> table (see module docstring for the columns); for a loaded task a
            mapping that reads the table from disk on each access.
        label_space: fitted on the training split only.
        vocab: input vocabulary fitted on the training split only.
        config: the parameters it was built with.
        stats: counts reported by the build (patients kept / dropped / truncated per split, ...).
        root: the directory the task was loaded from (None when built in memory).
    """

    splits: Mapping[str, pl.DataFrame]
    label_space: LabelSpace
    vocab: Vocab
    config: NextVisitConfig
    stats: dict[str, Any] = field(default_factory=dict)
    root: Path | None = None

    @property
    def num_labels(self) -> int:
        return len(self.label_space)

    def split(self, name: str) -> pl.DataFrame:
        """The table of one split."""
        if name not in self.splits:
            raise KeyError(f"split {name!r} is not in this task; it has {list(self.splits)}.")
        return self.splits[name]

    def arrays(self, name: str) -> FlatSplit:
        """Flat arrays of one split: memory-mapped from a saved task, else built from its table."""
        if name not in self.splits:
            raise KeyError(f"split {name!r} is not in this task; it has {list(self.splits)}.")
        if self.root is not None and has_arrays(self.root, name):
            return load_flat(self.root, name)
        return FlatSplit.from_table(self.splits[name])

    def iter_patients(self, split: str) -> Iterator[PatientVisits]:
        """Patients of ``split`` one at a time, as numpy arrays."""
        yield from iter_patient_rows(self.split(split))

    # -- persistence --------------------------------------------------------------------------
    def save(self, out_dir: str | Path, overwrite: bool = False) -> Path:
        """Write the task to ``out_dir`` atomically (temp directory, then rename).

        Raises:
            FileExistsError: ``out_dir`` exists and ``overwrite`` is False.
        """
        out = Path(out_dir)
        if out.exists() and not overwrite:
            raise FileExistsError(f"{out} already exists; pass overwrite=True to replace the saved task.")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            for name in self.splits:
                frame = self.splits[name]
                frame.write_parquet(tmp / f"{name}.parquet", statistics=True, row_group_size=8192)
                FlatSplit.from_table(frame).save(tmp, name)
                del frame
            write_task_files(tmp, list(self.splits), self.label_space, self.vocab, self.config, self.stats)
            _replace_dir(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return out

    @classmethod
    def load(cls, in_dir: str | Path) -> NextVisitData:
        """Read a task written by :meth:`save`."""
        meta = read_task_meta(in_dir)
        root = Path(in_dir)
        for name in meta["splits"]:  # cheap checks now (schemas only), rows later on demand
            path = _split_path(root, name)
            if not path.is_file():
                raise DataNotFoundError(f"{path} does not exist; expected split {name!r} of a saved next-visit task.")
            _check_task_schema(path, pl.read_parquet_schema(path))
        label_space = LabelSpace.from_dict(_read_json(root / "label_space.json"))
        vocab = Vocab.from_dict(_read_json(root / "vocab.json"))
        splits = SavedSplits(root, tuple(meta["splits"]))
        return cls(splits, label_space, vocab, NextVisitConfig.from_dict(meta["config"]), dict(meta["stats"]), root=root)


class SavedSplits(Mapping[str, pl.DataFrame]):
    """Split name -> table of a saved task, read from its parquet file on every access (no cache:
    a caller that keeps the table holds it, one that only wants the arrays never reads it).
    """

    def __init__(self, root: Path, names: tuple[str, ...]) -> None:
        self.root = root
        self.names = names

    def __getitem__(self, name: str) -> pl.DataFrame:
        if name not in self.names:
            raise KeyError(name)
        path = _split_path(self.root, name)
        frame = pl.read_parquet(path)
        _check_task_schema(path, frame.schema)
        return frame

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def write_task_files(
    out: Path, splits: list[str], label_space: LabelSpace, vocab: Vocab, config: NextVisitConfig, stats: dict[str, Any]
) -> None:
    """``label_space.json``, ``vocab.json`` and ``task.json`` of a task directory being written."""
    _write_json(out / "label_space.json", label_space.to_dict())
    _write_json(out / "vocab.json", vocab.to_dict())
    _write_json(
        out / "task.json",
        {"kind": "NextVisitData", "format_version": FORMAT_VERSION, "splits": splits, "config": config.to_dict(), "stats": stats},
    )


def read_task_meta(in_dir: str | Path) -> dict[str, Any]:
    """``task.json`` of a saved task (cheap: no patient rows are read)."""
    root = Path(in_dir)
    if not root.is_dir():
        raise DataNotFoundError(f"{root} does not exist; expected a task directory written by NextVisitData.save.")
    meta = _read_json(root / "task.json")
    if meta.get("kind") != "NextVisitData" or meta.get("format_version") not in READABLE_VERSIONS:
        raise DataError(
            f"{root / 'task.json'} describes {meta.get('kind')!r} format {meta.get('format_version')!r}; "
            f"expected 'NextVisitData' format {FORMAT_VERSION}."
        )
    return meta


def scan_split(in_dir: str | Path, split: str) -> pl.LazyFrame:
    """Lazy scan of one saved split (for streaming / filtering without loading it whole)."""
    path = _split_path(Path(in_dir), split)
    if not path.is_file():
        raise DataNotFoundError(f"{path} does not exist; expected split {split!r} of a saved next-visit task.")
    return pl.scan_parquet(path)


def iter_saved_patients(in_dir: str | Path, split: str, rows_per_chunk: int = 8192) -> Iterator[PatientVisits]:
    """Stream the patients of a saved split with memory bounded by ``rows_per_chunk`` patients."""
    import pyarrow.parquet as pq

    path = _split_path(Path(in_dir), split)
    if not path.is_file():
        raise DataNotFoundError(f"{path} does not exist; expected split {split!r} of a saved next-visit task.")
    for batch in pq.ParquetFile(path).iter_batches(batch_size=rows_per_chunk):
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        yield from iter_patient_rows(frame)


def iter_patient_rows(frame: pl.DataFrame) -> Iterator[PatientVisits]:
    """Rows of a task table as :class:`PatientVisits`."""
    for row in frame.iter_rows(named=True):
        yield PatientVisits(
            subject_id=int(row["subject_id"]),
            sex=int(row["sex"]),
            visit_time=np.asarray(row["visit_time"], dtype=np.int64),
            age=np.asarray([np.nan if a is None else a for a in row["age"]], dtype=np.float32),
            tokens=[np.asarray(v, dtype=np.int32) for v in row["tokens"]],
            token_time=[np.asarray(v, dtype=np.int64) for v in row["token_time"]],
            labels=[np.asarray(v, dtype=np.int32) for v in row["labels"]],
        )


def empty_task_frame() -> pl.DataFrame:
    """A task table with no patients and the exact task schema."""
    return pl.DataFrame(schema=TASK_SCHEMA)


def _split_path(root: Path, split: str) -> Path:
    if split not in SPLIT_NAMES:
        raise KeyError(f"split {split!r} is unknown; expected one of {list(SPLIT_NAMES)}.")
    return root / f"{split}.parquet"


def _check_task_schema(path: Path, schema: Mapping[str, pl.DataType]) -> None:
    for name, dtype in TASK_SCHEMA.items():
        if name not in schema:
            raise DataError(f"{path} has no column {name!r}; expected a table written by NextVisitData.save.")
        if schema[name] != dtype:
            raise DataError(f"{path} column {name!r} has dtype {schema[name]}, expected {dtype}.")


def _write_json(path: Path, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1, sort_keys=True)
        fh.write("\n")


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataNotFoundError(f"{path} does not exist; expected part of a saved next-visit task.")
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON ({exc}).") from exc


def _replace_dir(src: Path, dst: Path) -> None:
    replace_dir(src, dst)
