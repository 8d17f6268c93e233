"""MIMIC-III and MIMIC-IV-Note discharge summaries with their ICD codes -> canonical notes table.

Users bring the PhysioNet files; nothing is downloaded. One document per hospital admission:
``doc_id`` = the admission id (HADM_ID / hadm_id, as a string), ``subject_id`` = the patient id.

MIMIC-III v1.4 (``ROOT`` holds ``NOTEEVENTS``, ``DIAGNOSES_ICD``, ``PROCEDURES_ICD``, each
``.csv.gz`` or ``.csv``, upper-case columns as released):

- NOTEEVENTS rows with ``CATEGORY == "Discharge summary"``; an admission's summaries are
  concatenated as CAML does (the report, then its addenda; within each, by CHARTDATE then ROW_ID),
  separated by a blank line. ``ISERROR`` is not used (neither CAML nor Edin et al. filter on it).
- codes: DIAGNOSES_ICD / PROCEDURES_ICD ``ICD9_CODE`` in SEQ_NUM order, diagnoses first, dots
  restored CAML-style: ``ICD9CM//428.0`` (after 3 characters, after 4 for E codes),
  ``ICD9PROC//39.61`` (after 2; ``ICD9PROC`` is the procedure prefix of every clincode reader).

MIMIC-IV-Note v2.2 (``note/discharge.csv[.gz]``: note_id, subject_id, hadm_id, note_type,
note_seq, charttime, storetime, text) with MIMIC-IV ``hosp/diagnoses_icd`` and
``hosp/procedures_icd`` (subject_id, hadm_id, seq_num, icd_code, icd_version):

- an admission's discharge notes are concatenated by note_seq;
- ``icd_version`` 9 / 10 selects the prefix: ``ICD9CM`` / ``ICD10CM`` (dot after 3 characters) for
  diagnoses, ``ICD9PROC`` (dot after 2) / ``ICD10PCS`` (no dot) for procedures. ``icd_version=9``
  or ``10`` keeps one release only (Edin et al.'s MIMIC-IV ICD-9 and ICD-10 sets).

Splits: ``split_ids`` (CAML id lists or an Edin et al. split table, see
:mod:`clincode.data.notes._mimic_splits`); documents in no list are dropped and counted. Without
``split_ids``, a seeded 80/10/10 split by patient.

Counted in ``NotesTable.skipped`` (never a silent drop). Under ``on_error="raise"`` these are
errors, under ``"skip"`` counted skips: ``empty_text`` (an admission whose summaries are blank),
``malformed_code`` (a code fitting no code system), ``unknown_icd_version``, ``bad_id`` (a row
whose SUBJECT_ID / HADM_ID is empty or not an integer), ``unknown_split_id`` (an id list naming an
admission that is not among the documents). Always counted, never errors, because the published
releases contain them: ``empty_code_rows`` (MIMIC-III has rows with an empty ICD9_CODE),
``documents_without_codes`` (summaries of admissions with no code of the requested types,
dropped as in CAML / Edin et al.), ``admissions_without_notes`` (codes of admissions with no
discharge summary), ``documents_not_in_split_lists`` and ``codes_of_other_icd_version``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from clincode.data.errors import DataNotFoundError
from clincode.data.notes._codes import ICD9PCS, ICD10PCS, clean_codes
from clincode.data.notes._mimic_csv import find_csv, int_ids, read_columns
from clincode.data.notes._mimic_splits import read_split_ids, splits_by_patient, splits_from_ids
from clincode.data.notes._skips import SkipCounter
from clincode.data.notes.result import NotesTable, build_frame, check_nonempty, count_codes

DISCHARGE_CATEGORY = "Discharge summary"
NOTEEVENTS_COLUMNS: tuple[str, ...] = ("ROW_ID", "SUBJECT_ID", "HADM_ID", "CHARTDATE", "CATEGORY", "DESCRIPTION", "TEXT")
MIMIC_III_CODE_COLUMNS: tuple[str, ...] = ("SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE")
DISCHARGE_COLUMNS: tuple[str, ...] = ("note_id", "subject_id", "hadm_id", "note_type", "note_seq", "text")
MIMIC_IV_CODE_COLUMNS: tuple[str, ...] = ("subject_id", "hadm_id", "seq_num", "icd_code", "icd_version")
CODE_TABLES: dict[str, tuple[str, str]] = {"D": ("DIAGNOSES_ICD", "diagnoses_icd"), "P": ("PROCEDURES_ICD", "procedures_icd")}
# (code type, ICD version) -> vocabulary prefix.
PREFIXES: dict[tuple[str, int], str] = {("D", 9): "ICD9CM", ("D", 10): "ICD10CM", ("P", 9): ICD9PCS, ("P", 10): ICD10PCS}


def _check_code_types(code_types: Sequence[str]) -> tuple[str, ...]:
    types = tuple(code_types)
    if not types or any(t not in CODE_TABLES for t in types) or len(set(types)) != len(types):
        raise ValueError(f"code_types is {code_types!r}; expected distinct values among 'D' and 'P'.")
    return types


def read_mimic_iii_notes(
    root: Path,
    *,
    split_ids: Path | None = None,
    split_variant: str | None = None,
    code_types: Sequence[str] = ("D", "P"),
    on_error: str = "raise",
    seed: int = 0,
) -> NotesTable:
    """Read MIMIC-III v1.4 discharge summaries and their ICD-9 codes (see the module docstring).

    Args:
        root: directory holding NOTEEVENTS, DIAGNOSES_ICD and PROCEDURES_ICD (.csv or .csv.gz).
        split_ids: CAML directory of ``{train,dev,test}_*_hadm_ids.csv`` or an Edin et al. split
            table; None: seeded 80/10/10 split by patient.
        split_variant: CAML list variant (``"full"`` or ``"50"``) when the directory holds both.
        code_types: ``"D"`` (DIAGNOSES_ICD) and / or ``"P"`` (PROCEDURES_ICD).
        on_error: ``"raise"`` at the first bad input, or ``"skip"`` and count it.
        seed: seed of the patient split (ignored with ``split_ids``).

    Raises:
        DataNotFoundError: ``root`` or a required file is missing.
        DataError: a missing column (naming file and column), a bad input under ``"raise"``, bad
            split files, or no document left.
        ValueError: bad ``code_types`` / ``on_error``.
    """
    types = _check_code_types(code_types)
    root = _require_dir(Path(root), "the MIMIC-III CSV directory (NOTEEVENTS, DIAGNOSES_ICD, PROCEDURES_ICD)")
    skips = SkipCounter(on_error, f"MIMIC-III {root}")
    info: dict[str, int] = {}
    path = find_csv(root, "NOTEEVENTS", "MIMIC-III notes table")
    notes = read_columns(path, NOTEEVENTS_COLUMNS, pl.col("CATEGORY").str.strip_chars() == DISCHARGE_CATEGORY)
    notes = _valid_ids(notes, "SUBJECT_ID", "HADM_ID", path, skips)
    # CAML order: the report first, then its addenda; CHARTDATE is ISO text, so it sorts as a date.
    notes = notes.with_columns(
        (pl.col("DESCRIPTION").str.strip_chars() != "Report").alias("_addendum"),
        pl.col("ROW_ID").str.strip_chars().cast(pl.Int64, strict=False).alias("_row"),
    ).sort(["HADM_ID", "_addendum", "CHARTDATE", "_row"], nulls_last=True, maintain_order=True)
    documents = _concatenate(notes, "SUBJECT_ID", "HADM_ID", "TEXT")

    raw_codes: dict[int, list[str]] = {}
    for code_type in types:
        table_path = find_csv(root, CODE_TABLES[code_type][0], f"MIMIC-III {CODE_TABLES[code_type][0]} table")
        table = read_columns(table_path, MIMIC_III_CODE_COLUMNS)
        table = _valid_ids(table, "SUBJECT_ID", "HADM_ID", table_path, skips)
        table = table.with_columns(pl.lit(9, pl.Int64).alias("_version"))
        _collect_codes(table, code_type, "SEQ_NUM", "ICD9_CODE", raw_codes, info)
    return _assemble(documents, raw_codes, skips, info, f"MIMIC-III {root}", split_ids, split_variant, seed)


def read_mimic_iv_notes(
    note_root: Path,
    hosp_root: Path | None = None,
    *,
    split_ids: Path | None = None,
    split_variant: str | None = None,
    code_types: Sequence[str] = ("D", "P"),
    icd_version: int | None = None,
    on_error: str = "raise",
    seed: int = 0,
) -> NotesTable:
    """Read MIMIC-IV-Note discharge summaries with MIMIC-IV hosp ICD codes (see the module docstring).

    Args:
        note_root: MIMIC-IV-Note root holding ``note/discharge.csv[.gz]`` (or the ``note`` folder).
        hosp_root: MIMIC-IV root holding ``hosp/`` (or the ``hosp`` folder); None: ``note_root``.
        split_ids, split_variant, code_types, on_error, seed: as in :func:`read_mimic_iii_notes`.
        icd_version: 9 or 10 keeps codes of that ICD release only; None keeps both.

    Raises:
        DataNotFoundError, DataError, ValueError: as in :func:`read_mimic_iii_notes`.
    """
    types = _check_code_types(code_types)
    if icd_version not in (None, 9, 10):
        raise ValueError(f"icd_version is {icd_version!r}; expected 9, 10 or None (both).")
    note_root = _require_dir(Path(note_root), "the MIMIC-IV-Note directory (note/discharge.csv.gz)")
    hosp = _require_dir(Path(hosp_root) if hosp_root is not None else note_root, "the MIMIC-IV directory (hosp/)")
    note_dir = note_root / "note" if (note_root / "note").is_dir() else note_root
    hosp_dir = hosp / "hosp" if (hosp / "hosp").is_dir() else hosp
    skips = SkipCounter(on_error, f"MIMIC-IV-Note {note_root}")
    info: dict[str, int] = {}
    path = find_csv(note_dir, "discharge", "MIMIC-IV-Note discharge notes")
    notes = _valid_ids(read_columns(path, DISCHARGE_COLUMNS), "subject_id", "hadm_id", path, skips)
    notes = notes.with_columns(pl.col("note_seq").str.strip_chars().cast(pl.Int64, strict=False).alias("_seq"))
    notes = notes.sort(["hadm_id", "_seq", "note_id"], nulls_last=True, maintain_order=True)
    documents = _concatenate(notes, "subject_id", "hadm_id", "text")

    raw_codes: dict[int, list[str]] = {}
    for code_type in types:
        name = CODE_TABLES[code_type][1]
        table_path = find_csv(hosp_dir, name, f"MIMIC-IV {name} table")
        table = _valid_ids(read_columns(table_path, MIMIC_IV_CODE_COLUMNS), "subject_id", "hadm_id", table_path, skips)
        version = table["icd_version"].str.strip_chars().cast(pl.Int64, strict=False)
        bad = ~version.is_in([9, 10]) | version.is_null()
        bad_rows = table.filter(bad)
        for row in (bad_rows.head(1) if skips.on_error == "raise" else bad_rows).iter_rows(named=True):
            skips.problem(
                "unknown_icd_version",
                f"{table_path}: admission {row['hadm_id']} code {row['icd_code']!r} has icd_version "
                f"{row['icd_version']!r}; expected 9 or 10",
            )
        table = table.with_columns(version.alias("_version")).filter(~bad)
        if icd_version is not None:
            other = table.filter(pl.col("_version") != icd_version).height
            _add(info, "codes_of_other_icd_version", other)
            table = table.filter(pl.col("_version") == icd_version)
        _collect_codes(table, code_type, "seq_num", "icd_code", raw_codes, info)
    return _assemble(documents, raw_codes, skips, info, f"MIMIC-IV-Note {note_root}", split_ids, split_variant, seed)


def _require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DataNotFoundError(f"{path} is not a directory; expected {what}.")
    return path


def _add(info: dict[str, int], reason: str, n: int) -> None:
    if n:
        info[reason] = info.get(reason, 0) + int(n)


def _valid_ids(frame: pl.DataFrame, subject: str, hadm: str, path: Path, skips: SkipCounter) -> pl.DataFrame:
    """``subject`` and ``hadm`` as Int64; rows where either is empty / not an integer are problems."""
    frame = frame.with_columns(int_ids(frame, subject), int_ids(frame, hadm).alias("_hadm"))
    raw_hadm = frame[hadm]
    frame = frame.with_columns(pl.col("_hadm").alias(hadm))
    bad = frame[subject].is_null() | frame[hadm].is_null()
    if bad.any():
        rows = frame.with_row_index("_line").filter(bad)
        shown = rows.head(1) if skips.on_error == "raise" else rows
        for line in shown["_line"].to_list():
            skips.problem(
                "bad_id",
                f"{path} data row {line + 1} has {hadm}={raw_hadm[line]!r} and an empty or non-integer "
                f"{subject} or {hadm}; expected integer ids",
            )
    return frame.filter(~bad).drop("_hadm")


def _concatenate(notes: pl.DataFrame, subject: str, hadm: str, text: str) -> pl.DataFrame:
    """One row per admission (sorted by id): subject_id, hadm_id, the notes' text joined by a blank line."""
    return (
        notes.with_columns(pl.col(text).fill_null(""))
        .group_by(hadm, maintain_order=True)
        .agg(pl.col(subject).first().alias("subject_id"), pl.col(text).str.join("\n\n").alias("text"))
        .rename({hadm: "hadm_id"})
        .sort("hadm_id")
    )


def _collect_codes(
    table: pl.DataFrame, code_type: str, seq: str, code: str, out: dict[int, list[str]], info: dict[str, int]
) -> None:
    """Append each admission's prefixed raw codes (in ``seq`` order) to ``out[hadm_id]``."""
    hadm = "HADM_ID" if "HADM_ID" in table.columns else "hadm_id"
    table = table.with_columns(
        pl.col(code).str.strip_chars().alias("_code"),
        pl.col(seq).str.strip_chars().cast(pl.Int64, strict=False).alias("_seq"),
    ).with_row_index("_line")
    empty = table["_code"].is_null() | (table["_code"] == "")
    _add(info, "empty_code_rows", int(empty.sum()))
    table = table.filter(~empty).sort([hadm, "_seq", "_line"], nulls_last=True)
    for hadm_id, version, body in table.select(hadm, "_version", "_code").iter_rows():
        out.setdefault(hadm_id, []).append(f"{PREFIXES[(code_type, version)]}//{body}")


def _assemble(
    documents: pl.DataFrame,
    raw_codes: dict[int, list[str]],
    skips: SkipCounter,
    info: dict[str, int],
    source: str,
    split_ids: Path | None,
    split_variant: str | None,
    seed: int,
) -> NotesTable:
    """Documents with cleaned codes, split, and the report of everything dropped or unverified."""
    unknown: list[str] = []
    hadms: list[int] = []
    subjects: list[int] = []
    texts: list[str] = []
    codes: list[list[str]] = []
    with_notes = set(documents["hadm_id"].to_list())
    _add(info, "admissions_without_notes", sum(1 for h in raw_codes if h not in with_notes))
    for hadm_id, subject_id, text in documents.select("hadm_id", "subject_id", "text").iter_rows():
        if not text.strip():
            skips.problem("empty_text", f"{source}: admission {hadm_id} has an empty discharge summary text")
            continue
        doc_codes = clean_codes(raw_codes.get(hadm_id, []), f"{source} admission {hadm_id}", skips, unknown)
        if not doc_codes:
            _add(info, "documents_without_codes", 1)
            continue
        hadms.append(hadm_id)
        subjects.append(subject_id)
        texts.append(text)
        codes.append(doc_codes)
    if split_ids is not None:
        splits, unlisted = splits_from_ids(hadms, read_split_ids(Path(split_ids), split_variant), skips, source)
        _add(info, "documents_not_in_split_lists", unlisted)
    else:
        splits = list[str | None](splits_by_patient(subjects, seed)) if hadms else []
    keep = [i for i, s in enumerate(splits) if s is not None]
    frame = build_frame(
        doc_id=[str(hadms[i]) for i in keep],
        subject_id=[subjects[i] for i in keep],
        text=[texts[i] for i in keep],
        codes=[codes[i] for i in keep],
        split=[splits[i] for i in keep],  # type: ignore[misc]  # keep holds the rows whose split is set
    )
    check_nonempty(frame, source)
    # Unknown codes of documents dropped afterwards (not in any split list) are not reported.
    unknown_set = set(unknown)
    unknown_kept = [c for i in keep for c in codes[i] if c in unknown_set]
    skipped = dict(sorted({**skips.summary(), **info}.items()))
    return NotesTable(frame=frame, skipped=skipped, unknown_codes=count_codes(unknown_kept))
