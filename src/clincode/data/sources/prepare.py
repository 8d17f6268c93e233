"""``prepare_ehr``: raw MIMIC-IV / MIMIC-III / MEDS data -> the canonical clincode MEDS directory."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import polars as pl

from clincode.data.errors import DataNotFoundError
from clincode.data.source_registry import keyword_defaults, select_options
from clincode.data.sources.counts import SKIP_RULES, SkipCounts
from clincode.data.sources.output import assign_splits, code_metadata, write_dataset
from clincode.data.sources.registry import EHR_SOURCES
from clincode.data.splits import SPLIT_NAMES
from clincode.io import check_output_target


def prepare_ehr(
    source: str,
    path: Path,
    out: Path,
    *,
    overwrite: bool = False,
    icd9_to_icd10: bool = False,
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    progress: bool = True,
    include_death: bool = False,
) -> Path:
    """Convert ``path`` (a ``source`` in :data:`EHR_SOURCES`) into a MEDS directory at ``out``.

    Args:
        source: a name in :data:`EHR_SOURCES`: "mimic-iv", "mimic-iii" or "meds".
        path: the raw dataset (see ``EHR_SOURCES.get(source)`` for the files expected).
        out: output directory (parent must exist; non-empty only with ``overwrite``).
        overwrite: replace an existing non-empty ``out``.
        icd9_to_icd10: map ICD-9-CM diagnoses to ICD-10-CM through the GEMs (MIMIC sources);
            codes without a mapping keep their ICD9CM form and are counted.
        split_fractions: train / tuning / held_out fractions of subjects (each split non-empty).
        seed: seed of the subject split permutation (same seed -> same splits).
        progress: print the counts of skipped / normalised rows to stderr.
        include_death: also write ``MEDS_DEATH`` events (MIMIC sources; off by default because
            a timed death event would count as a visit of its own in next-visit tasks).

    Returns:
        ``out``.

    Raises:
        UnknownNameError: unknown source (a KeyError listing the known ones).
        ValueError: bad split fractions, or an option the source does not accept is set
            (``icd9_to_icd10`` / ``include_death`` with "meds").
        DataNotFoundError / DataError: missing files or columns, unparseable dates or ids.
        FileExistsError: ``out`` is not empty and ``overwrite`` is False.
    """
    values = {"icd9_to_icd10": icd9_to_icd10, "include_death": include_death}
    spec, options = select_options(EHR_SOURCES, source, values, keyword_defaults(prepare_ehr))
    path, out = Path(path), Path(out)
    if not path.exists():
        raise DataNotFoundError(f"{path} does not exist; expected a {source} dataset ({spec.description}).")
    check_output_target(out, overwrite)
    counts = SkipCounts()
    data = spec.read(path, counts, **options)
    events, splits = data.events, data.splits
    split_origin = "source" if splits is not None else "drawn"
    if splits is None:
        splits = assign_splits(events["subject_id"], split_fractions, seed)
    codes = code_metadata(events["code"], data.dictionary)
    info = _dataset_info(source, path, events, splits, counts, split_origin, icd9_to_icd10, split_fractions, seed, include_death)
    write_dataset(out, events, codes, splits, info, overwrite=overwrite)
    if progress:
        _report(out, info, counts)
    return out


def _dataset_info(
    source: str,
    path: Path,
    events: pl.DataFrame,
    splits: pl.DataFrame,
    counts: SkipCounts,
    split_origin: str,
    icd9_to_icd10: bool,
    split_fractions: tuple[float, float, float],
    seed: int,
    include_death: bool,
) -> dict[str, Any]:
    try:
        clincode_version = version("clincode")
    except PackageNotFoundError:
        clincode_version = "unknown"
    timed = events.filter(pl.col("time").is_not_null() & (pl.col("code") != "MEDS_BIRTH"))
    per_split = dict(splits.group_by("split").len().iter_rows())
    return {
        "source": source,
        "path": str(path.resolve()),
        "clincode_version": clincode_version,
        "parameters": {
            "icd9_to_icd10": icd9_to_icd10,
            "split_fractions": list(split_fractions),
            "seed": seed,
            "include_death": include_death,
            "splits": split_origin,
        },
        "counts": {
            "subjects": int(splits.height),
            "events": int(events.height),
            "codes": int(events["code"].n_unique()),
            "visits": int(timed.select("subject_id", "time").unique().height),
            "subjects_per_split": {name: int(per_split.get(name, 0)) for name in SPLIT_NAMES},
            "skipped": dict(counts.values),
        },
        "skip_rules": SKIP_RULES,
    }


def _report(out: Path, info: dict[str, Any], counts: SkipCounts) -> None:
    c = info["counts"]
    print(f"prepared {out}: {c['subjects']} subjects, {c['visits']} visits, {c['events']} events", file=sys.stderr)
    for name, n in counts.nonzero().items():
        print(f"  {name}: {n}  ({SKIP_RULES[name]})", file=sys.stderr)
