"""Train / tuning / held-out assignment of MIMIC admissions: published id lists, or by patient.

Two published layouts are read (the user brings the files):

- CAML (Mullenbach et al. 2018): a directory with ``train_{full,50}_hadm_ids.csv``,
  ``dev_..._hadm_ids.csv`` and ``test_..._hadm_ids.csv``, one HADM_ID per line and no header;
  ``variant`` (``"full"`` or ``"50"``) picks the set when both are present.
- Edin et al. 2023 ("medical-coding-reproducibility"): one table (``.feather`` / ``.arrow``,
  ``.parquet`` or ``.csv``) with an id column ``_id`` (or ``hadm_id`` / ``HADM_ID``) and a
  ``split`` column valued ``train`` / ``val`` / ``test``.

Split names map to clincode's: train -> ``train``; dev / val / valid / validation -> ``tuning``;
test -> ``held_out`` (canonical names map to themselves).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from clincode.data.errors import DataError, DataNotFoundError
from clincode.data.notes._skips import SkipCounter
from clincode.data.sources.output import assign_splits

SPLIT_ALIASES: dict[str, str] = {
    "train": "train", "training": "train",
    "dev": "tuning", "val": "tuning", "valid": "tuning", "validation": "tuning", "tuning": "tuning",
    "test": "held_out", "held_out": "held_out", "heldout": "held_out",
}  # fmt: skip
CAML_SPLITS: dict[str, str] = {"train": "train", "dev": "tuning", "test": "held_out"}
ID_COLUMNS: tuple[str, ...] = ("_id", "hadm_id", "HADM_ID")
PATIENT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)


def read_split_ids(path: Path, variant: str | None = None) -> dict[int, str]:
    """Admission id -> canonical split, from a CAML directory or an Edin-style table.

    Raises:
        DataNotFoundError: ``path`` or a CAML list is missing.
        DataError: a non-integer id, an unknown split name, an id in two splits, a table without
            an id or split column, or several CAML variants in the directory and no ``variant``.
    """
    path = Path(path)
    if path.is_dir():
        return _read_caml_dir(path, variant)
    if not path.is_file():
        raise DataNotFoundError(
            f"{path} does not exist; expected a CAML directory of *_hadm_ids.csv lists or a split table."
        )
    return _read_split_table(path)


def _read_caml_dir(root: Path, variant: str | None) -> dict[int, str]:
    out: dict[int, str] = {}
    for source, split in CAML_SPLITS.items():
        if variant is not None:
            candidates = [root / f"{source}_{variant}_hadm_ids.csv"]
            candidates = [p for p in candidates if p.is_file()]
        else:
            candidates = sorted(root.glob(f"{source}_*hadm_ids.csv"))
        if not candidates:
            wanted = f"{source}_{variant}_hadm_ids.csv" if variant else f"{source}_*_hadm_ids.csv"
            raise DataNotFoundError(f"{root} has no {wanted}; expected CAML's train/dev/test id lists.")
        if len(candidates) > 1:
            names = [p.name for p in candidates]
            raise DataError(f"{root} has several {source} lists {names}; pass the variant ('full' or '50').")
        list_path = candidates[0]
        for number, line in enumerate(list_path.read_text(encoding="utf-8").splitlines(), start=1):
            text = line.strip()
            if not text:
                continue
            if not text.isdigit():
                raise DataError(f"{list_path} line {number} is {line!r}; expected one integer HADM_ID per line.")
            _assign(out, int(text), split, str(list_path))
    return out


def _read_split_table(path: Path) -> dict[int, str]:
    suffix = path.suffix.lower()
    try:
        if suffix in (".feather", ".arrow", ".ipc"):
            table = pl.read_ipc(path)
        elif suffix == ".parquet":
            table = pl.read_parquet(path)
        elif suffix == ".csv":
            table = pl.read_csv(path, infer_schema=False)
        else:
            raise DataError(f"{path} has suffix {path.suffix!r}; expected .feather, .parquet or .csv (or a CAML directory).")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"{path} could not be read as a split table ({exc}).") from exc
    id_column = next((c for c in ID_COLUMNS if c in table.columns), None)
    if id_column is None or "split" not in table.columns:
        raise DataError(
            f"{path} has columns {table.columns}; expected an id column (one of {list(ID_COLUMNS)}) and 'split'."
        )
    out: dict[int, str] = {}
    for number, (raw_id, raw_split) in enumerate(table.select(id_column, "split").iter_rows(), start=1):
        text = str(raw_id).strip() if raw_id is not None else ""
        if not text.isdigit():
            raise DataError(f"{path} row {number} has {id_column}={raw_id!r}; expected an integer admission id.")
        name = str(raw_split).strip().lower() if raw_split is not None else ""
        if name not in SPLIT_ALIASES:
            raise DataError(
                f"{path} row {number} has split {raw_split!r}; expected one of {sorted(SPLIT_ALIASES)}."
            )
        _assign(out, int(text), SPLIT_ALIASES[name], str(path))
    return out


def _assign(out: dict[int, str], doc_id: int, split: str, where: str) -> None:
    previous = out.get(doc_id)
    if previous is not None and previous != split:
        raise DataError(f"{where}: admission {doc_id} is listed in both {previous!r} and {split!r}; splits must be disjoint.")
    out[doc_id] = split


def splits_from_ids(
    doc_ids: Sequence[int], assignment: dict[int, str], skips: SkipCounter, source: str
) -> tuple[list[str | None], int]:
    """Split of each document (None: in no list, dropped by the caller) and how many were unlisted.

    Ids named in the lists but absent from the documents go through ``skips`` as
    ``unknown_split_id`` (one count per id): an error under ``on_error="raise"``.
    """
    present = set(doc_ids)
    unknown = sorted(set(assignment) - present)
    for i, doc_id in enumerate(unknown):
        more = f" ({len(unknown)} such ids in total)" if i == 0 and len(unknown) > 1 else ""
        skips.problem(
            "unknown_split_id",
            f"{source}: split lists name admission {doc_id}, which is not among the documents read{more}",
        )
    splits = [assignment.get(doc_id) for doc_id in doc_ids]
    return splits, sum(1 for s in splits if s is None)


def splits_by_patient(subject_ids: Sequence[int], seed: int) -> list[str]:
    """Seeded 80/10/10 split of patients (every document of a patient in the same split)."""
    table = assign_splits(pl.Series("subject_id", list(subject_ids), dtype=pl.Int64), PATIENT_FRACTIONS, seed)
    lookup = dict(zip(table["subject_id"].to_list(), table["split"].to_list(), strict=True))
    return [lookup[s] for s in subject_ids]
