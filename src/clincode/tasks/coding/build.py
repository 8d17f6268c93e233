"""The prepared text-coding task: notes -> token ids, ICD label columns and CCS label columns.

Everything is fitted on the TRAIN split only (docs/methods.md section 4.1):

- the word vocabulary (:class:`TextVocab`: words in >= ``min_df`` training documents, PAD 0, UNK 1);
- the ICD label space (:class:`LabelSpace` at level ``code``): codes in >= ``min_label_count``
  training documents, optionally the ``num_labels`` most frequent; columns ordered by training
  document frequency. A tuning / held-out code that is not a label cannot be predicted: it is left
  out of the evaluation targets but COUNTED per split (``report["unseen_codes"]``) and per document
  (column ``n_unseen``), so a CodiEsp-style MAP over every gold code can still be computed;
- the single-level CCS label list (MARN's multitask targets): the CCS categories of the training
  documents' diagnosis codes (:func:`clincode.codes.ccs.ccs_category`). A code without a CCS
  category (procedures, codes unknown to the CCS tables) gives no CCS target and is counted
  (``report["ccs"]``).

Per-split table (polars, one row per document, in the notes table's order)::

    doc_id      String
    subject_id  String          bootstrap unit (CodiEsp: the document itself)
    tokens      List(Int32)     token ids of the first ``max_tokens`` tokens (may be empty)
    labels      List(Int32)     sorted ICD label columns of the document's gold codes
    ccs         List(Int32)     sorted CCS label columns of its gold diagnosis codes
    n_codes     Int32           gold codes of the document (label prefixes only), seen or not
    n_unseen    Int32           of which not in the label space

Saved as ``DIR/{split}.parquet`` plus ``meta.json`` (build config, vocabulary, label space, CCS
labels, report, format version), written to a temporary directory and renamed into place.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clincode.data.errors import DataError, DataNotFoundError
from clincode.data.labels import LabelSpace
from clincode.data.notes import NotesTable, TextVocab, encode, read_codiesp, read_notes_table, tokenize
from clincode.data.splits import SPLIT_NAMES
from clincode.io import replace_dir

FORMAT_VERSION = 1
NOTES_TABLE_FILE = "notes.parquet"
CODIESP_DIRS = ("train", "dev", "test")
CSV_CODES_SEP = ";"

SPLIT_SCHEMA: dict[str, pl.DataType] = {
    "doc_id": pl.String(),
    "subject_id": pl.String(),
    "tokens": pl.List(pl.Int32()),
    "labels": pl.List(pl.Int32()),
    "ccs": pl.List(pl.Int32()),
    "n_codes": pl.Int32(),
    "n_unseen": pl.Int32(),
}


@dataclass(frozen=True)
class CodingConfig:
    """Build parameters of a coding task (saved with it; JSON-able)."""

    format: str = "auto"
    language: str = "en"
    code_types: tuple[str, ...] = ("D",)
    code_prefixes: tuple[str, ...] | None = None
    on_error: str = "raise"
    max_tokens: int = 4000
    min_df: int = 3
    min_label_count: int = 1
    num_labels: int | None = None
    tokenizer: str | None = None  # plm: documents encoded as this HF tokenizer's wordpiece ids
    noise_filter_tau: float | None = None  # SH paper's embedding-similarity filter of TRAIN labels
    noise_filter_encoder: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # The SH pipeline's options appear only when set, so the cache keys of other runs are unchanged.
        optional = {k: getattr(self, k) for k in ("tokenizer", "noise_filter_tau", "noise_filter_encoder")}
        return {
            "format": self.format,
            "language": self.language,
            "code_types": list(self.code_types),
            "code_prefixes": None if self.code_prefixes is None else list(self.code_prefixes),
            "on_error": self.on_error,
            "max_tokens": self.max_tokens,
            "min_df": self.min_df,
            "min_label_count": self.min_label_count,
            "num_labels": self.num_labels,
            **{k: v for k, v in optional.items() if v is not None},
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> CodingConfig:
        state = dict(state)
        state["code_types"] = tuple(state["code_types"])
        if state.get("code_prefixes") is not None:
            state["code_prefixes"] = tuple(state["code_prefixes"])
        return cls(**state)


# --------------------------------------------------------------------------- reading notes
def resolve_notes_source(path: Path, fmt: str = "auto") -> tuple[str, Path]:
    """("codiesp", root) or ("table", file) for ``data.path``; FileNotFoundError naming what was expected."""
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(
            f"data.path {path} does not exist; expected a CodiEsp release directory (train/, dev/, test/) "
            f"or a notes table (.parquet/.csv/.jsonl file, or a directory holding {NOTES_TABLE_FILE})."
        )
    is_codiesp = path.is_dir() and all((path / d).is_dir() for d in CODIESP_DIRS)
    table = path / NOTES_TABLE_FILE if path.is_dir() else path
    if fmt == "codiesp" or (fmt == "auto" and is_codiesp):
        if not is_codiesp:
            raise DataNotFoundError(f"data.path {path} is not a CodiEsp release; expected the directories train/, dev/ and test/ in it.")
        return "codiesp", path
    if fmt not in ("auto", "table"):
        raise ValueError(f"data.params.format is {fmt!r}; expected auto, codiesp or table.")
    if not table.is_file():
        raise DataNotFoundError(
            f"data.path {path} is neither a CodiEsp release (train/, dev/, test/) nor a notes table; "
            f"expected a .parquet/.csv/.jsonl file or a directory holding {NOTES_TABLE_FILE}."
        )
    return "table", table


def read_notes(path: Path, config: CodingConfig) -> NotesTable:
    """The canonical notes table of ``data.path`` (CodiEsp release or notes table file)."""
    kind, source = resolve_notes_source(path, config.format)
    if kind == "codiesp":
        return read_codiesp(source, language=config.language, code_types=config.code_types, on_error=config.on_error)  # type: ignore[arg-type]  # config strings checked against read_codiesp's Literal choices
    sep = CSV_CODES_SEP if source.suffix.lower() == ".csv" else None
    return read_notes_table(source, codes_sep=sep, on_error=config.on_error)


# --------------------------------------------------------------------------- the prepared task
@dataclass
class CodingData:
    """A prepared coding task: fitted vocabulary, label spaces, encoded splits and a report."""

    config: CodingConfig
    vocab: TextVocab
    label_space: LabelSpace
    ccs_codes: list[str]
    ccs_counts: np.ndarray  # (V_ccs,) int64, training documents per CCS category
    tables: dict[str, pl.DataFrame]
    report: dict[str, Any]

    @property
    def num_labels(self) -> int:
        return len(self.label_space)

    @property
    def num_ccs(self) -> int:
        return len(self.ccs_codes)

    def split(self, name: str) -> pl.DataFrame:
        if name not in self.tables:
            raise KeyError(f"split {name!r} is unknown; expected one of {', '.join(self.tables)}")
        return self.tables[name]

    def training_tokens(self) -> list[list[str]]:
        """The training documents as token strings as the model sees them (truncated, OOV -> UNK)."""
        words = self.vocab.tokens_
        return [[words[i] for i in doc] for doc in self.split("train")["tokens"].to_list()]

    # -- persistence ------------------------------------------------------------------------
    def save(self, directory: Path, overwrite: bool = False) -> Path:
        directory = Path(directory)
        if directory.exists() and not overwrite:
            raise FileExistsError(f"{directory} exists; pass overwrite=True to replace it.")
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.parent / f".{directory.name}.tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            for name, table in self.tables.items():
                table.write_parquet(tmp / f"{name}.parquet")
            meta = {
                "format_version": FORMAT_VERSION,
                "config": self.config.to_dict(),
                "vocab": self.vocab.to_dict(),
                "label_space": self.label_space.to_dict(),
                "ccs_codes": list(self.ccs_codes),
                "ccs_counts": [int(n) for n in self.ccs_counts],
                "report": self.report,
            }
            (tmp / "meta.json").write_text(json.dumps(meta))
            return replace_dir(tmp, directory)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> CodingData:
        directory = Path(directory)
        meta_path = directory / "meta.json"
        if not meta_path.is_file():
            raise DataNotFoundError(f"{meta_path} does not exist; expected a prepared coding task directory.")
        meta = json.loads(meta_path.read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise DataError(f"{meta_path} has format_version {meta.get('format_version')}; expected {FORMAT_VERSION}.")
        tables = {}
        for name in SPLIT_NAMES:
            table = pl.read_parquet(directory / f"{name}.parquet")
            if dict(table.schema) != SPLIT_SCHEMA:
                raise DataError(f"{directory / (name + '.parquet')} has schema {dict(table.schema)}; expected {SPLIT_SCHEMA}.")
            tables[name] = table
        return cls(
            config=CodingConfig.from_dict(meta["config"]),
            vocab=TextVocab.from_dict(meta["vocab"]),
            label_space=LabelSpace.from_dict(meta["label_space"]),
            ccs_codes=list(meta["ccs_codes"]),
            ccs_counts=np.asarray(meta["ccs_counts"], dtype=np.int64),
            tables=tables,
            report=meta["report"],
        )


def code_prefix(code: str) -> str:
    """``"ICD10CM//"`` of ``"ICD10CM//E11.9"`` (the whole code if it has no ``//``)."""
    head, sep, _ = code.partition("//")
    return head + sep


def _ccs_of(code: str) -> str | None:
    from clincode.codes.ccs import ccs_category

    try:
        return ccs_category(code)
    except ValueError:  # procedures and other vocabularies have no single-level diagnosis CCS
        return None


def build_coding(
    path: Path,
    config: CodingConfig,
    *,
    fitted: tuple[TextVocab, LabelSpace, Sequence[str]] | None = None,
    allow_empty_splits: bool = False,
) -> CodingData:
    """Read ``path``, fit vocabulary and labels on train (or reuse ``fitted``), encode every split.

    Args:
        fitted: (vocab, label_space, ccs_codes) of a trained run: nothing is refitted (prediction
            on new notes).
        allow_empty_splits: accept a dataset without training documents (only with ``fitted``).
    """
    notes = read_notes(path, config)
    filter_report = None
    if config.noise_filter_tau is not None and fitted is None:  # training labels only, never at prediction
        from clincode.data.notes.noise_filter import filter_notes

        notes, filter_report = filter_notes(notes, config.noise_filter_tau, config.noise_filter_encoder, progress=True)
    data = build_coding_from_notes(notes, config, fitted=fitted, allow_empty_splits=allow_empty_splits)
    if filter_report is not None:
        data.report["noise_filter"] = filter_report
    return data


def build_coding_from_notes(
    notes: NotesTable,
    config: CodingConfig,
    *,
    fitted: tuple[TextVocab, LabelSpace, Sequence[str]] | None = None,
    allow_empty_splits: bool = False,
) -> CodingData:
    frame = notes.frame
    splits = frame["split"].to_list()
    tokens = [tokenize(t) for t in frame["text"].to_list()]
    raw_codes: list[list[str]] = frame["codes"].to_list()
    is_train = np.asarray([s == "train" for s in splits])
    if fitted is None and not is_train.any():
        raise DataError("the notes have no document in split 'train'; the vocabulary and labels are fitted on it.")
    if fitted is None and not allow_empty_splits:
        missing = [s for s in SPLIT_NAMES if s not in set(splits)]
        if missing:
            raise DataError(f"the notes have no document in split(s) {missing}; expected train, tuning and held_out.")

    if fitted is not None:
        vocab, label_space, ccs_codes = fitted[0], fitted[1], list(fitted[2])
        prefixes = tuple(label_space.code_prefixes)
        ccs_counts = np.zeros(len(ccs_codes), dtype=np.int64)
    else:
        vocab = TextVocab(min_df=config.min_df).fit(tok for tok, tr in zip(tokens, is_train, strict=True) if tr)
        train_codes = [c for c, tr in zip(raw_codes, is_train, strict=True) if tr]
        prefixes = config.code_prefixes or tuple(sorted({code_prefix(c) for doc in train_codes for c in doc}))
        if not prefixes:
            raise DataError("the training documents have no codes; expected prefixed codes such as 'ICD10CM//E11.9'.")
        counts = Counter(c for doc in train_codes for c in doc if c.startswith(prefixes))
        kept = {c: n for c, n in counts.items() if n >= config.min_label_count}
        if not kept:
            raise DataError(
                f"no training code occurs in >= {config.min_label_count} documents (data.params.min_label_count)."
            )
        label_space = LabelSpace(num_labels=config.num_labels, level="code", code_prefixes=prefixes)
        label_space.fit_label_counts(kept, n_visits=int(is_train.sum()))
        ccs_train = Counter(g for doc in train_codes for g in {_ccs_of(c) for c in doc} if g is not None)
        ccs_codes = sorted(ccs_train, key=lambda g: (-ccs_train[g], g))
        ccs_counts = np.asarray([ccs_train[g] for g in ccs_codes], dtype=np.int64)
    ccs_index = {g: i for i, g in enumerate(ccs_codes)}
    # a fitted run without CCS columns (prediction) needs no CCS lookup (loading the table costs ~1.5 s)
    lookup_ccs = bool(ccs_index) or fitted is None

    columns: dict[str, dict[str, list]] = {s: {k: [] for k in SPLIT_SCHEMA} for s in SPLIT_NAMES}
    unseen: dict[str, Counter[str]] = {s: Counter() for s in SPLIT_NAMES}
    no_ccs: Counter[str] = Counter()
    truncated: Counter[str] = Counter()
    empty: Counter[str] = Counter()
    wordpieces = None
    if config.tokenizer is not None:  # model plm reads its own tokenizer's ids (see clincode.models.plm)
        from clincode.encoders import WordpieceEncoding

        wordpieces = WordpieceEncoding(config.tokenizer)
    for doc_id, subject, toks, codes, split, text in zip(
        frame["doc_id"].to_list(), frame["subject_id"].to_list(), tokens, raw_codes, splits, frame["text"].to_list(), strict=True
    ):
        codes = [c for c in codes if c.startswith(prefixes)]
        labels = label_space.transform(codes)
        missing = [c for c in codes if c not in label_space.index_]
        unseen[split].update(missing)
        groups = set()
        for c in codes if lookup_ccs else ():
            g = _ccs_of(c)
            if g is None:
                no_ccs[c] += 1
            elif g in ccs_index:
                groups.add(ccs_index[g])
        ids = wordpieces.encode(text, config.max_tokens) if wordpieces is not None else encode(toks, vocab, config.max_tokens)
        truncated[split] += int(len(toks) > config.max_tokens)
        empty[split] += int(len(ids) == 0)
        col = columns[split]
        col["doc_id"].append(str(doc_id))
        col["subject_id"].append(str(subject))
        col["tokens"].append(ids.astype(np.int32))
        col["labels"].append(labels)
        col["ccs"].append(sorted(groups))
        col["n_codes"].append(len(codes))
        col["n_unseen"].append(len(missing))
    tables = {s: pl.DataFrame({k: pl.Series(k, v, dtype=SPLIT_SCHEMA[k]) for k, v in columns[s].items()}) for s in SPLIT_NAMES}
    report = {
        "documents": {s: tables[s].height for s in SPLIT_NAMES},
        "num_labels": len(label_space),
        "label_prefixes": list(prefixes),
        "num_ccs": len(ccs_codes),
        "vocab_size": len(vocab),
        "unseen_codes": {
            s: {"distinct": len(unseen[s]), "occurrences": int(sum(unseen[s].values()))} for s in SPLIT_NAMES
        },
        "gold_codes": {s: int(tables[s]["n_codes"].sum() or 0) for s in SPLIT_NAMES},
        "docs_without_labels": {s: int((tables[s]["labels"].list.len() == 0).sum()) for s in SPLIT_NAMES},
        "truncated_docs": dict(truncated),
        "empty_docs": dict(empty),
        "codes_without_ccs": {"distinct": len(no_ccs), "occurrences": int(sum(no_ccs.values()))},
        "reader": notes.report,
    }
    return CodingData(
        config=config,
        vocab=vocab,
        label_space=label_space,
        ccs_codes=ccs_codes,
        ccs_counts=ccs_counts,
        tables=tables,
        report=report,
    )


def description_tokens(descriptions: Sequence[str], vocab: TextVocab, max_len: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Each label description encoded with the run's vocabulary, right-padded.

    Returns (ids int64 [V, L], mask bool [V, L]) with L = the longest encoded description (>= 1,
    at most ``max_len``); a description without any token has an all-False mask row.
    """
    encoded = [encode(tokenize(d), vocab, max_len) for d in descriptions]
    width = max([len(e) for e in encoded] + [1])
    ids = np.zeros((len(encoded), width), dtype=np.int64)
    mask = np.zeros((len(encoded), width), dtype=bool)
    for i, e in enumerate(encoded):
        ids[i, : len(e)] = e
        mask[i, : len(e)] = True
    return ids, mask
