"""The canonical notes table and the result every notes reader returns.

Canonical notes table (one row per document), a polars DataFrame:

=========== ======================= ==========================================================
column      dtype                   meaning
=========== ======================= ==========================================================
doc_id      String                  unique document id
subject_id  String or Int64         patient id (CodiEsp has no patients: its doc_id is used)
text        String                  the document text, non-empty
codes       List(String)            prefixed codes (``ICD10CM//N44.8``, ``ICD10PCS//BW03ZZZ``),
                                    unique within a document, in source order; may be empty
split       String                  ``train`` / ``tuning`` / ``held_out``
=========== ======================= ==========================================================

Evidence mentions (optional, ``NotesTable.mentions``; one row per annotated span, only when the
reader was asked for them and the source has them, e.g. CodiEsp's ``{split}X.tsv``):

=========== ======================= ==========================================================
column      dtype                   meaning
=========== ======================= ==========================================================
doc_id      String                  the document the span belongs to (a ``doc_id`` of the table)
code        String                  prefixed code, as in ``codes`` (always one of that document's)
type        String                  code type of the source (CodiEsp: ``D`` or ``P``)
text        String                  the span text; pieces of a discontinuous span joined by a space
starts      List(Int64)             character start of each piece in the document text
ends        List(Int64)             character end (exclusive) of each piece
=========== ======================= ==========================================================
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from clincode.data.errors import DataError
from clincode.data.splits import SPLIT_NAMES

NOTES_COLUMNS: tuple[str, ...] = ("doc_id", "subject_id", "text", "codes", "split")
MENTION_SCHEMA: dict[str, pl.DataType] = {
    "doc_id": pl.String(),
    "code": pl.String(),
    "type": pl.String(),
    "text": pl.String(),
    "starts": pl.List(pl.Int64()),
    "ends": pl.List(pl.Int64()),
}


@dataclass(frozen=True)
class NotesTable:
    """A canonical notes table plus what the reader skipped or could not verify.

    Attributes:
        frame: the canonical notes table (see the module docstring).
        skipped: number of skipped inputs by reason (only under ``on_error="skip"``); reasons
            counting documents end in ``_doc`` or name a document problem, ``malformed_code``
            counts codes removed from otherwise kept documents.
        unknown_codes: well-formed codes absent from the shipped code-system release, with their
            number of occurrences; they are kept in ``frame``.
        mentions: evidence spans (see the module docstring), or None when they were not asked
            for; an empty frame when asked for but the source has none.
    """

    frame: pl.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)
    unknown_codes: dict[str, int] = field(default_factory=dict)
    mentions: pl.DataFrame | None = None

    def mentions_by_doc(self, doc_ids: Sequence[str]) -> list[list[dict[str, Any]]]:
        """The mention rows (as dicts) of each document of ``doc_ids``, in that order; [] for none.

        Raises ValueError when the table carries no mentions (the reader was not asked for them).
        """
        if self.mentions is None:
            raise ValueError("this NotesTable has no mentions; read it with mentions=True.")
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in self.mentions.iter_rows(named=True):
            grouped.setdefault(row["doc_id"], []).append(row)
        return [grouped.get(doc_id, []) for doc_id in doc_ids]

    @property
    def report(self) -> dict[str, Any]:
        """Plain-dict summary: documents per split, skipped inputs, unknown codes."""
        per_split = self.frame.group_by("split").len()
        counts = dict(zip(per_split["split"].to_list(), per_split["len"].to_list(), strict=True))
        out: dict[str, Any] = {
            "documents": {name: int(counts.get(name, 0)) for name in SPLIT_NAMES},
            "skipped": dict(self.skipped),
            "unknown_codes": dict(self.unknown_codes),
            "n_unknown_code_occurrences": int(sum(self.unknown_codes.values())),
        }
        if self.mentions is not None:
            out["mentions"] = int(self.mentions.height)
        return out


def build_frame(
    doc_id: Sequence[str],
    subject_id: Sequence[str] | Sequence[int],
    text: Sequence[str],
    codes: Sequence[Sequence[str]],
    split: Sequence[str],
) -> pl.DataFrame:
    """Assemble the canonical frame from validated columns (all of one length, named as in it)."""
    all_int = bool(subject_id) and all(isinstance(s, int) for s in subject_id)
    subjects = list(subject_id) if all_int else [str(s) for s in subject_id]
    return pl.DataFrame(
        {
            "doc_id": pl.Series(list(doc_id), dtype=pl.String),
            "subject_id": pl.Series(subjects, dtype=pl.Int64 if all_int else pl.String),
            "text": pl.Series(list(text), dtype=pl.String),
            "codes": pl.Series([list(c) for c in codes], dtype=pl.List(pl.String)),
            "split": pl.Series(list(split), dtype=pl.String),
        }
    )


def build_mentions(rows: Sequence[tuple[str, str, str, str, list[int], list[int]]]) -> pl.DataFrame:
    """The mentions frame from (doc_id, code, type, text, starts, ends) tuples (may be empty)."""
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in MENTION_SCHEMA]
    return pl.DataFrame(
        {name: pl.Series(list(col), dtype=dtype) for (name, dtype), col in zip(MENTION_SCHEMA.items(), columns, strict=True)}
    )


def check_nonempty(frame: pl.DataFrame, source: str) -> None:
    """DataError if no document survived reading ``source``."""
    if frame.height == 0:
        raise DataError(f"{source}: no documents left after reading; expected at least one valid document.")


def count_codes(codes: Sequence[str]) -> dict[str, int]:
    """Occurrences per code, most frequent first then alphabetical (stable reports)."""
    return dict(sorted(Counter(codes).items(), key=lambda kv: (-kv[1], kv[0])))
