"""Write a next-visit task directory part by part, with memory bounded by one part.

The builder hands over each shard unit's encoded patients per split (:meth:`TaskDirWriter.add`);
they go to uncompressed Arrow IPC files in a work folder. :meth:`TaskDirWriter.finish` then merges
each split's parts in subject_id order (every part is sorted; parts may interleave) into the
split's parquet table and flat ``.npy`` arrays, ``rows_per_chunk`` patients at a time, reading the
parts through memory maps. Everything is written into a temp directory beside the target and
renamed into place at the end: an interrupted build leaves no half task that looks whole.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from clincode.data.labels import LabelSpace
from clincode.data.splits import SPLIT_NAMES
from clincode.data.vocab import Vocab
from clincode.io import replace_dir
from clincode.tasks.next_visit.arrays import FlatSplit, FlatSplitWriter, SplitSizes, table_sizes
from clincode.tasks.next_visit.data import TASK_SCHEMA, NextVisitConfig, empty_task_frame, write_task_files

WORK_DIR = "_work"


class TaskDirWriter:
    """Streaming writer of a saved next-visit task (the layout of :meth:`NextVisitData.save`).

    Args:
        out: the task directory to create (replaced if it exists: the caller checks overwrite).
        rows_per_chunk: patients merged and written per step (bounds the merge's memory).

    Use as a context manager: on an exception the temp directory is removed.
    """

    def __init__(self, out: Path, rows_per_chunk: int = 16384) -> None:
        if rows_per_chunk < 1:
            raise ValueError(f"rows_per_chunk must be >= 1, got {rows_per_chunk}.")
        self.out = Path(out)
        self.rows_per_chunk = rows_per_chunk
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.out.parent / f".{self.out.name}.tmp-{uuid.uuid4().hex[:8]}"
        self.work = self.tmp / WORK_DIR
        self.work.mkdir(parents=True)
        self.parts: dict[str, list[Path]] = {name: [] for name in SPLIT_NAMES}
        self.sizes: dict[str, SplitSizes] = {name: SplitSizes(0, 0, 0, 0) for name in SPLIT_NAMES}

    def __enter__(self) -> TaskDirWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def add(self, split: str, frame: pl.DataFrame) -> None:
        """One unit's patients of ``split`` (task columns, sorted by subject_id)."""
        if frame.height == 0:
            return
        path = self.work / f"{split}-{len(self.parts[split]):05d}.arrow"
        # Uncompressed, one record batch: the merge memory-maps it without copying.
        frame.select(list(TASK_SCHEMA)).rechunk().write_ipc(path, compression="uncompressed")
        self.parts[split].append(path)
        self.sizes[split] = self.sizes[split] + table_sizes(frame)

    def finish(self, label_space: LabelSpace, vocab: Vocab, config: NextVisitConfig, stats: dict[str, Any]) -> Path:
        """Merge every split, write the json files, and move the directory into place."""
        for name in SPLIT_NAMES:
            self._merge(name)
        shutil.rmtree(self.work)
        write_task_files(self.tmp, list(SPLIT_NAMES), label_space, vocab, config, stats)
        replace_dir(self.tmp, self.out)
        return self.out

    def _merge(self, split: str) -> None:
        parquet_path = self.tmp / f"{split}.parquet"
        arrays = FlatSplitWriter(self.tmp, split, self.sizes[split])
        if not self.parts[split]:
            empty_task_frame().write_parquet(parquet_path, statistics=True)
            arrays.close()
            return
        parts: list[pa.Table | None] = [pa.ipc.open_file(pa.memory_map(str(p))).read_all() for p in self.parts[split]]
        # Copies: a zero-copy view would keep its part's memory map alive after the part is released.
        ids = [np.array(t.column("subject_id").to_numpy(), dtype=np.int64) for t in parts if t is not None]
        part_of = np.repeat(np.arange(len(parts)), [len(x) for x in ids])
        row_of = np.concatenate([np.arange(len(x)) for x in ids])
        order = np.argsort(np.concatenate(ids), kind="stable")  # subject ids are unique per split
        # A part is unmapped once the merge is past its last row: with the usual layout (shards
        # holding increasing subject ranges) only one or two parts are mapped at any time.
        last_needed = np.zeros(len(parts), dtype=np.int64)
        np.maximum.at(last_needed, part_of[order], np.arange(len(order)))
        schema = parts[0].schema  # type: ignore[union-attr]  # no part is released before the writer opens
        writer = pq.ParquetWriter(parquet_path, schema)
        try:
            for start in range(0, len(order), self.rows_per_chunk):
                stop = min(start + self.rows_per_chunk, len(order))
                chunk = _gather(parts, part_of, row_of, order[start:stop])
                writer.write_table(chunk, row_group_size=8192)
                arrays.append(FlatSplit.from_table(chunk))
                del chunk
                for p in np.flatnonzero(last_needed < stop):
                    parts[int(p)] = None
        finally:
            writer.close()
        arrays.close()
        for part_path in self.parts[split]:
            part_path.unlink()


def _gather(parts: list[pa.Table | None], part_of: np.ndarray, row_of: np.ndarray, sel: np.ndarray) -> pa.Table:
    """Rows ``sel`` (global positions in sorted order) taken from their parts, in that order."""
    pidx, ridx = part_of[sel], row_of[sel]
    pieces, positions = [], []
    for p in np.unique(pidx):
        mask = pidx == p
        part = parts[int(p)]
        assert part is not None, "a merged part was released before its last row"
        pieces.append(part.take(pa.array(ridx[mask])))
        positions.append(np.flatnonzero(mask))
    table = pa.concat_tables(pieces).combine_chunks()
    # pieces come grouped by part; argsort of their target positions restores the sorted order.
    return table.take(pa.array(np.argsort(np.concatenate(positions), kind="stable")))
