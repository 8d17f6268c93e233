"""The raw sources ``prepare_ehr`` knows (:data:`EHR_SOURCES`): reader, expected files, options.

Adding a source is one ``register_source(EHR_SOURCES, EhrSource(...))`` call with a reader
``read(path, counts, **options) -> SourceData``; ``prepare_ehr`` does the rest (splits, code
metadata, ``dataset.json``, the atomic write).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from clincode.data.source_registry import Source, register_source
from clincode.data.sources import meds_dir, mimic_iii, mimic_iv
from clincode.data.sources.counts import SkipCounts
from clincode.data.sources.hosp import HospTables
from clincode.data.sources.hosp_events import hosp_events
from clincode.registry import Registry


@dataclass(frozen=True)
class SourceData:
    """What an EHR reader returns.

    Attributes:
        events: MEDS events (subject_id Int64, time Datetime("us"), code String, numeric_value Float32).
        dictionary: code -> description (code String, description String), may be empty.
        splits: the source's own subject splits (subject_id, split), or None to draw them.
    """

    events: pl.DataFrame
    dictionary: pl.DataFrame
    splits: pl.DataFrame | None = None


@dataclass(frozen=True, kw_only=True)
class EhrSource(Source[SourceData]):
    """An EHR source: :class:`Source` plus the files PATH must (or may) hold."""

    required_files: tuple[str, ...]
    optional_files: tuple[str, ...] = ()


EHR_SOURCES: Registry[EhrSource] = Registry("EHR source")

# Options of prepare_ehr that only some sources accept (the others are common to every source).
HOSP_OPTIONS: tuple[str, ...] = ("icd9_to_icd10", "include_death")


def hosp_reader(read_tables: Callable[[Path], HospTables]) -> Callable[..., SourceData]:
    """Reader of a hospital release: its tables -> MEDS events (admission = visit, see hosp_events)."""

    def read(path: Path, counts: SkipCounts, *, icd9_to_icd10: bool, include_death: bool) -> SourceData:
        tables = read_tables(path)
        events = hosp_events(tables, counts, icd9_to_icd10=icd9_to_icd10, include_death=include_death)
        return SourceData(events, tables.dictionary)

    return read


def read_meds(path: Path, counts: SkipCounts) -> SourceData:
    """Reader of a MEDS dataset: its events, code descriptions and (when usable) its splits."""
    events = meds_dir.read_meds_events(path, counts)
    splits = meds_dir.read_meds_splits(path, events["subject_id"])
    return SourceData(events, meds_dir.read_meds_dictionary(path), splits)


register_source(
    EHR_SOURCES,
    EhrSource(
        name="mimic-iv",
        description="MIMIC-IV hosp module (v2.x); PATH is the release root (with hosp/) or the hosp folder",
        required_files=tuple(f"hosp/{n}.csv[.gz]" for n in mimic_iv.REQUIRED_FILES),
        optional_files=tuple(f"hosp/{n}.csv[.gz]" for n in mimic_iv.OPTIONAL_FILES),
        read=hosp_reader(mimic_iv.read_mimic_iv),
        options=HOSP_OPTIONS,
    ),
)
register_source(
    EHR_SOURCES,
    EhrSource(
        name="mimic-iii",
        description="MIMIC-III v1.4 upper-case CSV tables; PATH is the folder holding them",
        required_files=tuple(f"{n}.csv[.gz]" for n in mimic_iii.REQUIRED_FILES),
        optional_files=tuple(f"{n}.csv[.gz]" for n in mimic_iii.OPTIONAL_FILES),
        read=hosp_reader(mimic_iii.read_mimic_iii),
        options=HOSP_OPTIONS,
    ),
)
register_source(
    EHR_SOURCES,
    EhrSource(
        name="meds",
        description="any MEDS dataset directory (data shards + metadata) as written by MEDS ETLs",
        required_files=meds_dir.REQUIRED_FILES,
        optional_files=meds_dir.OPTIONAL_FILES,
        read=read_meds,
        note="its codes and MEDS_DEATH events are kept as the dataset has them",
    ),
)
