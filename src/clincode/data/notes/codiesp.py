"""CodiEsp (CLEF eHealth 2020) reader: clinical case reports with ICD-10-CM / ICD-10-PCS codes.

Release layout (Zenodo doi:10.5281/zenodo.3837305, gold standard v4)::

    ROOT/{train,dev,test}/{split}D.tsv      articleID<TAB>code, ICD-10-CM diagnoses, lower case
    ROOT/{train,dev,test}/{split}P.tsv      articleID<TAB>code, ICD-10-PCS procedures
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
  codes of the chosen types is kept with an empty code list (many reports have no P code).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from clincode.data.errors import DataError, DataNotFoundError
from clincode.data.notes._codes import ICD10PCS, clean_codes
from clincode.data.notes._skips import SkipCounter
from clincode.data.notes.result import NotesTable, build_frame, check_nonempty, count_codes

CODIESP_SPLITS: dict[str, str] = {"train": "train", "dev": "tuning", "test": "held_out"}
TEXT_DIRS: dict[str, str] = {"en": "text_files_en", "es": "text_files"}
CODE_VOCABS: dict[str, str] = {"D": "ICD10CM", "P": ICD10PCS}


def read_codiesp(
    root: Path,
    *,
    language: Literal["en", "es"] = "en",
    code_types: Sequence[str] = ("D",),
    on_error: str = "raise",
) -> NotesTable:
    """Read a CodiEsp release into the canonical notes table.

    Args:
        root: directory holding ``train/``, ``dev/`` and ``test/``.
        language: ``"en"`` (``text_files_en``) or ``"es"`` (``text_files``, the original).
        code_types: any of ``"D"`` (diagnoses, ICD-10-CM) and ``"P"`` (procedures, ICD-10-PCS).
        on_error: ``"raise"`` at the first bad input (empty text, missing text file, malformed
            TSV line or code), or ``"skip"``: drop that document / code and count it in
            ``NotesTable.skipped``.

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
    root = Path(root)
    if not root.is_dir():
        raise DataNotFoundError(f"{root} is not a directory; expected the CodiEsp root holding train/, dev/, test/.")
    skips = SkipCounter(on_error, f"CodiEsp {root}")
    unknown: list[str] = []
    columns: dict[str, list] = {k: [] for k in ("doc_id", "subject_id", "text", "codes", "split")}
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
            for key, value in zip(columns, (doc_id, doc_id, text, codes, split), strict=True):
                columns[key].append(value)
    frame = build_frame(**columns)
    check_nonempty(frame, f"CodiEsp {root}")
    return NotesTable(frame=frame, skipped=skips.summary(), unknown_codes=count_codes(unknown))


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
