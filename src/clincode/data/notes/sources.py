"""The notes releases ``clincode prepare notes`` reads (:data:`NOTE_SOURCES`) and their options.

Adding a source is one ``register_source(NOTE_SOURCES, NoteSource(...))`` call with a reader
``read(path, **options) -> NotesTable`` taking exactly the options it lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from clincode.data.notes.codiesp import read_codiesp
from clincode.data.notes.mimic import read_mimic_iii_notes, read_mimic_iv_notes
from clincode.data.notes.result import NotesTable
from clincode.data.source_registry import Source, keyword_defaults, register_source, select_options
from clincode.registry import Registry


@dataclass(frozen=True, kw_only=True)
class NoteSource(Source[NotesTable]):
    """A notes source (see :class:`clincode.data.source_registry.Source`)."""


NOTE_SOURCES: Registry[NoteSource] = Registry("notes source")

MIMIC_OPTIONS: tuple[str, ...] = ("splits", "split_variant", "code_types", "on_error", "seed")


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
    """Read ``path`` as ``source`` (a name in :data:`NOTE_SOURCES`) into a :class:`NotesTable`.

    ``code_types`` defaults to diagnoses and procedures for MIMIC, diagnoses only for CodiEsp
    (its official main task). ``splits`` / ``split_variant`` / ``seed`` apply to MIMIC only,
    ``hosp`` / ``icd_version`` to MIMIC-IV-Note only, ``language`` to CodiEsp only (which has
    official splits).

    Raises:
        UnknownNameError: unknown source (a KeyError listing the known ones).
        ValueError: an option that does not apply to the source is set (the message names it).
    """
    values = {
        "splits": splits, "split_variant": split_variant, "hosp": hosp, "code_types": code_types,
        "icd_version": icd_version, "language": language, "on_error": on_error, "seed": seed,
    }  # fmt: skip
    spec, options = select_options(NOTE_SOURCES, source, values, _DEFAULTS)
    return spec.read(Path(path), **options)


_DEFAULTS = keyword_defaults(read_notes_source)


def _read_mimic_iii(
    path: Path, *, splits: Path | None, split_variant: str | None, code_types: Sequence[str] | None, on_error: str, seed: int
) -> NotesTable:
    return read_mimic_iii_notes(
        path, split_ids=splits, split_variant=split_variant, code_types=tuple(code_types or ("D", "P")),
        on_error=on_error, seed=seed,
    )  # fmt: skip


def _read_mimic_iv(
    path: Path,
    *,
    splits: Path | None,
    split_variant: str | None,
    hosp: Path | None,
    code_types: Sequence[str] | None,
    icd_version: int | None,
    on_error: str,
    seed: int,
) -> NotesTable:
    return read_mimic_iv_notes(
        path, hosp, split_ids=splits, split_variant=split_variant, code_types=tuple(code_types or ("D", "P")),
        icd_version=icd_version, on_error=on_error, seed=seed,
    )  # fmt: skip


def _read_codiesp(path: Path, *, language: str, code_types: Sequence[str] | None, on_error: str) -> NotesTable:
    return read_codiesp(path, language=language, code_types=tuple(code_types or ("D",)), on_error=on_error)  # type: ignore[arg-type]  # strings checked against read_codiesp's Literal choices


register_source(
    NOTE_SOURCES,
    NoteSource(
        name="mimic-iii",
        description="MIMIC-III v1.4 CSV directory (NOTEEVENTS, DIAGNOSES_ICD, PROCEDURES_ICD)",
        read=_read_mimic_iii,
        options=MIMIC_OPTIONS,
    ),
)
register_source(
    NOTE_SOURCES,
    NoteSource(
        name="mimic-iv-note",
        description="MIMIC-IV-Note root (note/discharge.csv.gz) with MIMIC-IV hosp tables (--hosp)",
        read=_read_mimic_iv,
        options=(*MIMIC_OPTIONS, "hosp", "icd_version"),
    ),
)
register_source(
    NOTE_SOURCES,
    NoteSource(
        name="codiesp",
        description="CodiEsp release root (train/, dev/, test/)",
        read=_read_codiesp,
        options=("language", "code_types", "on_error"),
        note="it has official splits",
    ),
)
