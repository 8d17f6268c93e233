"""Polars/Arrow tables written by the synthetic generator (MEDS layout).

Events: ``subject_id`` Int64, ``time`` Datetime("us") (null for the static sex event), ``code``
String, ``numeric_value`` Float32 (null). Per patient: ``GENDER//F|M`` (null time), ``MEDS_BIRTH``
at birth, then the diagnosis codes of each visit at the visit's timestamp; rows are sorted by
subject_id, then time (nulls first), then code id.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from clincode.codes import describe, icd10_parent
from clincode.data.splits import SPLIT_NAMES, split_counts
from clincode.data.synthetic.demographics import Cohort
from clincode.data.synthetic.processes import LatentProcesses
from clincode.data.synthetic.ragged import ragged_arange
from clincode.data.synthetic.simulate import VisitCodes
from clincode.io import PARQUET_COMPRESSION

STATIC_CODES: tuple[str, ...] = ("GENDER//F", "GENDER//M", "MEDS_BIRTH")


def code_table(universe_codes: tuple[str, ...]) -> pl.Series:
    """(V + 3,) all event code strings: the universe, then GENDER//F, GENDER//M, MEDS_BIRTH."""
    return pl.Series("code", [*universe_codes, *STATIC_CODES], dtype=pl.String)


def shard_events(cohort: Cohort, codes: VisitCodes, code_strings: pl.Series, first_subject_id: int) -> pl.DataFrame:
    """The MEDS event rows of one shard (see module docstring)."""
    n_universe = code_strings.len() - len(STATIC_CODES)
    n = cohort.n_patients
    diag_patient = cohort.visit_patient[codes.visit]
    n_diag = np.bincount(diag_patient, minlength=n)
    per_patient = 2 + n_diag
    start = np.cumsum(per_patient) - per_patient
    total = int(per_patient.sum())

    code_id = np.empty(total, dtype=np.int64)
    time_us = np.zeros(total, dtype=np.int64)
    static_time = np.zeros(total, dtype=bool)
    code_id[start] = n_universe + np.where(cohort.female, 0, 1)
    static_time[start] = True
    code_id[start + 1] = n_universe + 2
    time_us[start + 1] = cohort.birth_us
    diag_row = np.repeat(start + 2, n_diag) + ragged_arange(n_diag)
    code_id[diag_row] = codes.code
    time_us[diag_row] = cohort.visit_us[codes.visit]

    subject = np.repeat(np.arange(first_subject_id, first_subject_id + n, dtype=np.int64), per_patient)
    time = pl.from_arrow(pa.array(time_us, type=pa.timestamp("us"), mask=static_time))
    return pl.DataFrame(
        {
            "subject_id": pl.Series(subject, dtype=pl.Int64),
            "time": time,
            "code": code_strings.gather(code_id),
            "numeric_value": pl.repeat(None, total, dtype=pl.Float32, eager=True),
        }
    )


def shard_splits(n: int, fractions: tuple[float, float, float], rng: np.random.Generator) -> np.ndarray:
    """(n,) split index per patient (0 train, 1 tuning, 2 held_out), exact counts, random order."""
    return rng.permutation(np.repeat(np.arange(3, dtype=np.int8), split_counts(n, fractions)))


SPLITS_SCHEMA = pa.schema([("subject_id", pa.int64()), ("split", pa.string())])


def splits_batch(first_subject_id: int, split_index: np.ndarray) -> pa.Table:
    """Arrow table of ``subject_splits.parquet`` rows for one shard."""
    names = np.array(SPLIT_NAMES, dtype=object)[split_index]
    ids = np.arange(first_subject_id, first_subject_id + split_index.size, dtype=np.int64)
    columns = {"subject_id": pa.array(ids), "split": pa.array(names.tolist(), type=pa.string())}
    return pa.table(columns, schema=SPLITS_SCHEMA)


def open_splits_writer(path: Path) -> pq.ParquetWriter:
    """Streaming writer for ``subject_splits.parquet`` (one row group per shard)."""
    return pq.ParquetWriter(path, SPLITS_SCHEMA, compression=PARQUET_COMPRESSION)


def codes_metadata(universe_codes: tuple[str, ...], used: np.ndarray, static_used: tuple[str, ...]) -> pl.DataFrame:
    """``codes.parquet``: code, description, parent_codes (List(String)) for every code in the data."""
    codes = sorted([universe_codes[i] for i in np.flatnonzero(used)] + list(static_used))
    parents = []
    for code in codes:
        parent = icd10_parent(code) if code.startswith("ICD10CM//") else None
        parents.append([parent] if parent else [])
    return pl.DataFrame(
        {
            "code": pl.Series(codes, dtype=pl.String),
            "description": pl.Series([describe(c) for c in codes], dtype=pl.String),
            "parent_codes": pl.Series(parents, dtype=pl.List(pl.String)),
        }
    )


def dependency_table(
    universe_codes: tuple[str, ...], a: np.ndarray, b: np.ndarray, coupling: np.ndarray, used: np.ndarray
) -> pl.DataFrame:
    """``true_dependency.parquet`` rows among codes present in the data (code_a < code_b)."""
    keep = used[a] & used[b]
    names = np.array(universe_codes, dtype=object)
    return pl.DataFrame(
        {
            "code_a": pl.Series(names[a[keep]].tolist(), dtype=pl.String),
            "code_b": pl.Series(names[b[keep]].tolist(), dtype=pl.String),
            "coupling": pl.Series(coupling[keep], dtype=pl.Float64),
        }
    )


def processes_table(universe_codes: tuple[str, ...], proc: LatentProcesses) -> pl.DataFrame:
    """``latent_processes.parquet``: one row per (process, member code) of the generative model."""
    sizes = np.diff(proc.member_ptr)
    pid = np.repeat(np.arange(len(proc), dtype=np.int32), sizes)
    kinds = np.where(proc.chronic, "chronic", "acute")
    return pl.DataFrame(
        {
            "process_id": pl.Series(pid, dtype=pl.Int32),
            "process_name": pl.Series([proc.names[k] for k in pid], dtype=pl.String),
            "kind": pl.Series(kinds[pid].tolist(), dtype=pl.String),
            "restriction": pl.Series([proc.restriction[k] for k in pid], dtype=pl.String),
            "activation_rate": pl.Series(proc.rate[pid], dtype=pl.Float64),
            "code": pl.Series([universe_codes[c] for c in proc.member_code], dtype=pl.String),
            "emission_prob": pl.Series(proc.member_prob, dtype=pl.Float64),
        }
    )
