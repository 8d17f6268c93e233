"""CodiEsp (CLEF eHealth 2020) reader: clinical case reports with ICD-10-CM / ICD-10-PCS codes.

Release layout (Zenodo doi:10.5281/zenodo.3837305, gold standard v4)::

    ROOT/{train,dev,test}/{split}D.tsv      articleID<TAB>code, ICD-10-CM diagnoses, lower case
    ROOT/{train,dev,test}/{split}P.tsv      articleID<TAB>code, ICD-10-PCS procedures
    ROOT/{train,dev,test}/{split}X.tsv      articleID<TAB>DIAGNOSTICO|PROCEDIMIENTO<TAB>code<TAB>span<TAB>offsets
                                            evidence spans in the Spanish text; offsets "start end",
                                            or "s1 e1;s2 e2" for a discontinuous span (optional file)
    ROOT/{train,dev,test}/text_files/ID.txt     Spanish original
    ROOT/{train,dev,test}/text_files_en/ID.txt  machine-translated English, one sentence per line

Choices (documented because the release has no equivalent):

- splits: the official ones, renamed ``train`` -> ``train``, ``dev`` -> ``tuning``,
  ``test`` -> ``held_out``;
- ``subject_id`` = ``doc_id``: each case report is its own "patient";
- codes: ``D`` codes become ``ICD10CM//`` upper-case dotted (``n44.8`` -> ``ICD10CM//N44.8``),
  ``P`` codes ``ICD10PCS//`` upper-case (``bw03zzz`` -> ``ICD10PCS//BW03ZZZ``); D codes before P
  codes, each in TSV order. Codes absent from simple_icd_10_cm's release are kept and reported in
  ``NotesTable.unknown_codes``;
- documents: every text file of the split, plus every id named in a TSV; a text file without
  codes of the chosen types is kept with an empty code list (many reports have no P code);
- evidence (``mentions=True``, Spanish only: the offsets index the original text): the X rows of
  the chosen code types become ``NotesTable.mentions``. A row is kept only if it is consistent:
  five fields, a non-empty span, a document of the table, a code among that document's gold
  codes, offsets inside the text, and the text at the offsets (pieces joined by one space) equal
  to the span. Anything else goes through ``on_error`` under a ``mention_*`` reason (the 500/250/250
  release has 11 such rows: offsets past the end of the text, or including trailing punctuation
  the span text lacks). A split without an X file contributes no mention.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from clincode.data.errors import DataError, DataNotFoundError
from clincode.data.notes._codes import ICD10PCS, clean_codes, normalize_code
from clincode.data.notes._skips import SkipCounter
from clincode.data.notes.result import NotesTable, build_frame, build_mentions, check_nonempty, count_codes

CODIESP_SPLITS: dict[str, str] = {"train": "train", "dev": "tuning", "test": "held_out"}
TEXT_DIRS: dict[str, str] = {"en": "text_files_en", "es": "text_files"}
CODE_VOCABS: dict[str, str] = {"D": "ICD10CM", "P": ICD10PCS}
MENTION_TYPES: dict[str, str] = {"DIAGNOSTICO": "D", "PROCEDIMIENTO": "P"}

MentionRow = tuple[str, str, str, str, list[int], list[int]]


def read_codiesp(
    root: Path,
    *,
    language: Literal["en", "es"] = "en",
    code_types: Sequence[str] = ("D",),
    on_error: str = "raise",
    mentions: bool = False,
) -> NotesTable:
    """Read a CodiEsp release into the canonical notes table.

    Args:
        root: directory holding ``train/``, ``dev/`` and ``test/``.
        language: ``"en"`` (``text_files_en``) or ``"es"`` (``text_files``, the original).
        code_types: any of ``"D"`` (diagnoses, ICD-10-CM) and ``"P"`` (procedures, ICD-10-PCS).
        on_error: ``"raise"`` at the first bad input (empty text, missing text file, malformed
            TSV line or code, inconsistent evidence row), or ``"skip"``: drop that document /
            code / evidence row and count it in ``NotesTable.skipped``.
        mentions: also read the evidence spans of ``{split}X.tsv`` into ``NotesTable.mentions``
            (requires ``language="es"``); see the module docstring for the checks.

    Raises:
        DataNotFoundError: ``root``, a split directory, its text directory or a TSV is missing.
        DataError: a bad input under ``on_error="raise"``, or no document left.
        ValueError: bad ``language`` / ``code_types`` / ``on_error``.
    """
    if language not in TEXT_DIRS:
        raise ValueError(f"language is {language!r}; expected one of {', '.join(TEXT_DIRS)}.")
    types = tuple(code_types)
    if not types or any(t not in CODE_VOCABS for t in types) or len(set(types)) != len(types):
        raise ValueError(f"code_types is {code_types!r}; expected distinct values among 'D' and 'P'.")
    if mentions and language != "es":
        raise ValueError(
            f"mentions=True needs language='es' (got {language!r}): CodiEsp's evidence offsets index the Spanish text."
        )
    root = Path(root)
    if not root.is_dir():
        raise DataNotFoundError(f"{root} is not a directory; expected the CodiEsp root holding train/, dev/, test/.")
    skips = SkipCounter(on_error, f"CodiEsp {root}")
    unknown: list[str] = []
    columns: dict[str, list] = {k: [] for k in ("doc_id", "subject_id", "text", "codes", "split")}
    mention_rows: list[MentionRow] = []
    for source_split, split in CODIESP_SPLITS.items():
        split_dir = root / source_split
        text_dir = split_dir / TEXT_DIRS[language]
        if not text_dir.is_dir():
            raise DataNotFoundError(f"{text_dir} is not a directory; expected the CodiEsp {language} text files.")
        raw_codes: dict[str, list[str]] = {}
        for code_type in types:
            tsv = split_dir / f"{source_split}{code_type}.tsv"
            for doc_id, code in _read_code_tsv(tsv, skips):
                raw_codes.setdefault(doc_id, []).append(f"{CODE_VOCABS[code_type]}//{code}")
        doc_ids = sorted({p.stem for p in text_dir.glob("*.txt")} | set(raw_codes))
        kept: dict[str, tuple[str, list[str]]] = {}
        for doc_id in doc_ids:
            path = text_dir / f"{doc_id}.txt"
            if not path.is_file():
                skips.problem("missing_text_file", f"{path} does not exist but {doc_id!r} has codes in {split_dir}")
                continue
            text = path.read_text(encoding="utf-8")
            if not text.strip():
                skips.problem("empty_text", f"{path} is empty; expected the text of document {doc_id!r}")
                continue
            codes = clean_codes(raw_codes.get(doc_id, []), f"{split_dir} document {doc_id!r}", skips, unknown)
            kept[doc_id] = (text, codes)
            for key, value in zip(columns, (doc_id, doc_id, text, codes, split), strict=True):
                columns[key].append(value)
        if mentions:
            mention_rows += _read_mentions(split_dir / f"{source_split}X.tsv", kept, types, skips)
    frame = build_frame(**columns)
    check_nonempty(frame, f"CodiEsp {root}")
    return NotesTable(
        frame=frame,
        skipped=skips.summary(),
        unknown_codes=count_codes(unknown),
        mentions=build_mentions(mention_rows) if mentions else None,
    )


def _parse_offsets(field: str) -> list[tuple[int, int]] | None:
    """``"s e"`` or ``"s1 e1;s2 e2"`` as (start, end) pairs; None if not of that shape."""
    pieces: list[tuple[int, int]] = []
    for part in field.split(";"):
        numbers = part.split()
        if len(numbers) != 2 or not all(n.isdigit() for n in numbers):
            return None
        pieces.append((int(numbers[0]), int(numbers[1])))
    return pieces


def _read_mentions(
    path: Path, docs: dict[str, tuple[str, list[str]]], types: tuple[str, ...], skips: SkipCounter
) -> list[MentionRow]:
    """Consistent evidence rows of one ``{split}X.tsv`` for the kept documents ``docs`` (id -> text, codes)."""
    if not path.is_file():
        return []
    rows: list[MentionRow] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        fields = line.split("\t")
        if len(fields) != 5 or fields[1] not in MENTION_TYPES:
            skips.problem(
                "mention_malformed_line",
                f"{where} is {line!r}; expected articleID<TAB>DIAGNOSTICO|PROCEDIMIENTO<TAB>code<TAB>span<TAB>offsets",
            )
            continue
        doc_id, kind, raw_code, span, offsets = (f.strip() for f in fields)
        code_type = MENTION_TYPES[kind]
        if code_type not in types:
            continue  # a code type that was not asked for: not an error
        if not span:
            skips.problem("mention_empty_span", f"{where} has an empty span text")
            continue
        if doc_id not in docs:
            skips.problem("mention_unknown_doc", f"{where} names document {doc_id!r}, which is not in {path.parent}")
            continue
        text, codes = docs[doc_id]
        code, _ = normalize_code(f"{CODE_VOCABS[code_type]}//{raw_code}")
        if code not in codes:
            skips.problem("mention_code_not_gold", f"{where}: code {raw_code!r} is not a gold code of {doc_id!r}")
            continue
        pieces = _parse_offsets(offsets)
        if pieces is None or any(not 0 <= s < e <= len(text) for s, e in pieces):
            skips.problem(
                "mention_bad_offsets",
                f"{where}: offsets {offsets!r} are not non-empty 'start end' pairs inside the {len(text)}-character text of {doc_id!r}",
            )
            continue
        found = " ".join(text[s:e] for s, e in pieces)
        if found != span:
            skips.problem("mention_text_mismatch", f"{where}: span {span!r} but the text at {offsets!r} is {found!r}")
            continue
        rows.append((doc_id, code, code_type, span, [s for s, _ in pieces], [e for _, e in pieces]))
    return rows


def _read_code_tsv(path: Path, skips: SkipCounter) -> list[tuple[str, str]]:
    """(articleID, code) pairs of one ``{split}{D,P}.tsv``; blank lines are ignored."""
    if not path.is_file():
        raise DataNotFoundError(f"{path} does not exist; expected a CodiEsp code file (articleID<TAB>code).")
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            skips.problem("malformed_line", f"{path} line {number} is {line!r}; expected articleID<TAB>code")
            continue
        pairs.append((fields[0].strip(), fields[1].strip()))
    if not pairs and path.stat().st_size > 0 and skips.on_error == "raise":
        raise DataError(f"{path} has no articleID<TAB>code line.")
    return pairs
