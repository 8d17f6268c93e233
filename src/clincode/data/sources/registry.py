"""The raw sources ``prepare_ehr`` knows, with the files each expects (for the CLI and errors)."""

from __future__ import annotations

from dataclasses import dataclass

from clincode.data.sources import meds_dir, mimic_iii, mimic_iv


@dataclass(frozen=True)
class SourceSpec:
    """One source: its name, a one-line description and its expected files."""

    name: str
    description: str
    required_files: tuple[str, ...]
    optional_files: tuple[str, ...]


SOURCES: dict[str, SourceSpec] = {
    "mimic-iv": SourceSpec(
        "mimic-iv",
        "MIMIC-IV hosp module (v2.x); PATH is the release root (with hosp/) or the hosp folder",
        tuple(f"hosp/{n}.csv[.gz]" for n in mimic_iv.REQUIRED_FILES),
        tuple(f"hosp/{n}.csv[.gz]" for n in mimic_iv.OPTIONAL_FILES),
    ),
    "mimic-iii": SourceSpec(
        "mimic-iii",
        "MIMIC-III v1.4 upper-case CSV tables; PATH is the folder holding them",
        tuple(f"{n}.csv[.gz]" for n in mimic_iii.REQUIRED_FILES),
        tuple(f"{n}.csv[.gz]" for n in mimic_iii.OPTIONAL_FILES),
    ),
    "meds": SourceSpec(
        "meds",
        "any MEDS dataset directory (data shards + metadata) as written by MEDS ETLs",
        meds_dir.REQUIRED_FILES,
        meds_dir.OPTIONAL_FILES,
    ),
}
