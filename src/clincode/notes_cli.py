"""Logic of ``clincode prepare notes`` (``clincode synth notes`` calls generate_notes directly).

``prepare_notes`` reads a notes release (MIMIC-III, MIMIC-IV-Note, CodiEsp) into the canonical notes
table and writes ``OUT/notes.parquet`` + ``OUT/dataset.json`` into a directory that appears
atomically (built next to ``OUT``, renamed into place).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clincode.data.notes.result import NotesTable
from clincode.io import check_output_target, staging_dir, write_parquet

NOTE_SOURCES: dict[str, str] = {
    "mimic-iii": "MIMIC-III v1.4 CSV directory (NOTEEVENTS, DIAGNOSES_ICD, PROCEDURES_ICD)",
    "mimic-iv-note": "MIMIC-IV-Note root (note/discharge.csv.gz) with MIMIC-IV hosp tables (--hosp)",
    "codiesp": "CodiEsp release root (train/, dev/, test/)",
}


def read_notes_source(
    source: str,
    path: Path,
    *,
    splits: Path | None = None,
    split_variant: str | None = None,
    hosp: Path | None = None,
    code_types: Sequence[str] | None = None,
    icd_version: int | None = None,
    language: str = "en",
    on_error: str = "raise",
    seed: int = 0,
) -> NotesTable:
    """Read ``path`` as ``source`` (a key of :data:`NOTE_SOURCES`) into a :class:`NotesTable`.

    ``code_types`` defaults to diagnoses and procedures for MIMIC, diagnoses only for CodiEsp
    (its official main task). ``splits`` / ``split_variant`` / ``hosp`` / ``icd_version`` apply
    to MIMIC only, ``language`` to CodiEsp only (which has official splits).

    Raises:
        ValueError: unknown source, or an option that does not apply to it.
    """
    if source not in NOTE_SOURCES:
        raise ValueError(f"source {source!r} is not one of {', '.join(NOTE_SOURCES)}.")
    path = Path(path)
    if source == "codiesp":
        if splits is not None or hosp is not None or icd_version is not None:
            raise ValueError("--splits, --hosp and --icd-version do not apply to codiesp (it has official splits).")
        from clincode.data.notes.codiesp import read_codiesp

        return read_codiesp(path, language=language, code_types=tuple(code_types or ("D",)), on_error=on_error)  # type: ignore[arg-type]
    from clincode.data.notes.mimic import read_mimic_iii_notes, read_mimic_iv_notes

    types = tuple(code_types or ("D", "P"))
    if source == "mimic-iii":
        if hosp is not None or icd_version is not None:
            raise ValueError("--hosp and --icd-version apply to mimic-iv-note only.")
        return read_mimic_iii_notes(
            path, split_ids=splits, split_variant=split_variant, code_types=types, on_error=on_error, seed=seed
        )
    return read_mimic_iv_notes(
        path, hosp, split_ids=splits, split_variant=split_variant, code_types=types, icd_version=icd_version,
        on_error=on_error, seed=seed,
    )  # fmt: skip


def prepare_notes(source: str, path: Path, out: Path, *, overwrite: bool = False, **options: Any) -> tuple[Path, dict[str, Any]]:
    """Read a notes release (see :func:`read_notes_source` for ``options``) and write it to ``out``.

    Returns:
        (``out``, the report written to ``out/dataset.json``: documents per split, skipped
        inputs by reason, unknown codes).

    Raises:
        FileExistsError: ``out`` is not empty and ``overwrite`` is False (checked before reading).
        plus whatever the reader raises.
    """
    out = Path(out)
    check_output_target(out, overwrite)
    table = read_notes_source(source, path, **options)
    from clincode import __version__

    report = table.report
    info = {
        "source": source,
        "path": str(path),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in sorted(options.items())},
        "clincode_version": __version__,
        **report,
        "codes_distinct": int(table.frame["codes"].explode().drop_nulls().n_unique()),
        "files": ["notes.parquet", "dataset.json"],
    }
    with staging_dir(out, overwrite) as tmp:
        write_parquet(table.frame, tmp / "notes.parquet")
        (tmp / "dataset.json").write_text(json.dumps(info, indent=2, default=list) + "\n", encoding="utf-8")
    return out, info
