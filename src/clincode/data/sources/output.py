"""Write a prepared dataset in the canonical MEDS layout (see :mod:`clincode.data.schema`).

``data/shard_NNNNN.parquet`` (``shard_size`` subjects each), ``metadata/codes.parquet``,
``metadata/subject_splits.parquet``, ``metadata/dataset.json``. Built in a sibling temp dir and
renamed into place (:func:`clincode.io.staging_dir`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clincode.codes import describe, icd9_category, icd10_parent
from clincode.data.errors import DataError
from clincode.data.splits import SPLIT_NAMES, split_counts
from clincode.io import staging_dir, write_json, write_parquet


def assign_splits(subjects: pl.Series, fractions: tuple[float, float, float], seed: int) -> pl.DataFrame:
    """(subject_id, split): a seeded permutation of the sorted subjects cut by ``fractions``.

    Every split gets at least one subject (taken from the largest split) so small cohorts such as
    the 100-patient MIMIC-IV demo still give a usable tuning and held-out set.
    """
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split_fractions must be 3 positive numbers summing to 1, got {fractions}.")
    ids = np.sort(subjects.unique().to_numpy())
    if ids.size < 3:
        raise DataError(f"the dataset has {ids.size} subject(s); at least 3 are needed for train/tuning/held_out.")
    counts = split_counts(ids.size, fractions)
    for i in range(3):
        if counts[i] == 0:
            counts[i] += 1
            counts[int(np.argmax(counts))] -= 1
    order = np.random.default_rng(seed).permutation(ids.size)
    names = np.repeat(np.array(SPLIT_NAMES, dtype=object), counts)
    split = np.empty(ids.size, dtype=object)
    split[order] = names
    return pl.DataFrame({"subject_id": pl.Series(ids, dtype=pl.Int64), "split": pl.Series(split.tolist(), dtype=pl.String)})


def code_metadata(codes: pl.Series, dictionary: pl.DataFrame) -> pl.DataFrame:
    """codes.parquet rows: description from clincode.codes.describe, else ``dictionary``; parents."""
    table = dict(zip(dictionary["code"].to_list(), dictionary["description"].to_list(), strict=True))
    rows_code, rows_desc, rows_parent = [], [], []
    for code in sorted(codes.unique().drop_nulls().to_list()):
        text = describe(code)
        if text == code and table.get(code):
            text = table[code]
        rows_code.append(code)
        rows_desc.append(text)
        rows_parent.append(_parents(code))
    return pl.DataFrame(
        {
            "code": pl.Series(rows_code, dtype=pl.String),
            "description": pl.Series(rows_desc, dtype=pl.String),
            "parent_codes": pl.Series(rows_parent, dtype=pl.List(pl.String)),
        }
    )


def _parents(code: str) -> list[str]:
    if code.startswith("ICD10CM//"):
        parent = icd10_parent(code)
        return [parent] if parent else []
    if code.startswith("ICD9CM//"):
        parent = icd9_category(code)
        return [parent] if parent != code else []
    return []


def write_dataset(
    out: Path,
    events: pl.DataFrame,
    codes: pl.DataFrame,
    splits: pl.DataFrame,
    info: dict[str, Any],
    *,
    overwrite: bool,
    shard_size: int = 50_000,
) -> Path:
    """Write the MEDS directory atomically and return ``out``."""
    with staging_dir(out, overwrite) as tmp:
        (tmp / "data").mkdir()
        (tmp / "metadata").mkdir()
        ids = splits["subject_id"].sort()
        for i, start in enumerate(range(0, ids.len(), shard_size)):
            chunk = ids.slice(start, shard_size)
            shard = events.filter(pl.col("subject_id").is_in(chunk.implode()))
            write_parquet(shard, tmp / "data" / f"shard_{i:05d}.parquet")
        write_parquet(codes, tmp / "metadata" / "codes.parquet")
        write_parquet(splits.sort("subject_id"), tmp / "metadata" / "subject_splits.parquet")
        write_json(tmp / "metadata" / "dataset.json", info)
    return out
