"""The text-coding task (``data.task: coding``): a clinical note -> its ICD codes (and CCS categories).

The prepared task is cached under ``<out_dir>/.cache/coding-<key>`` keyed by the data config and a
fingerprint of the notes files (names, sizes, modification times), so every run of a benchmark on
the same notes builds it once. word2vec matrices are cached beside it, one per (config, seed).

Model inputs the task provides (docs/methods.md, MARN section): the model is built for the run's
vocabulary and ICD labels (plus ``num_ccs`` for a CCS head when ``data.params.ccs``); its embedding
is initialised from CBOW word2vec trained on the training documents (kept in the run as
``word2vec.npy``); a model with ``set_label_descriptions`` receives every label's description
encoded with the run's vocabulary; with ``data.params.ccs`` the loss is :class:`MultitaskLoss` (the
same registered loss on both heads).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl
import torch
from rich.console import Console
from torch import Tensor, nn
from torch.utils.data import DataLoader

from clincode.coders import CODERS, EvidenceCoder, build_coder
from clincode.coders.registry import coder_params, fitted_label_codes
from clincode.coders.terminology import icd10cm_descriptions
from clincode.config import RunConfig
from clincode.data.labels import LabelSpace
from clincode.data.notes import UNK_ID as TEXT_UNK_ID
from clincode.data.notes import TextVocab
from clincode.data.splits import SPLIT_NAMES
from clincode.encoders import WordpieceEncoding
from clincode.io import atomic_path
from clincode.launch import load_shared_cache
from clincode.losses import LabelStats, MultitaskLoss, build_loss
from clincode.metrics.codiesp import coding_summary
from clincode.models import MODELS, EmbeddingsHook, LabelCountsHook, LabelDescriptionsHook, build_model
from clincode.registry import Registry
from clincode.tasks.base import (
    TASKS,
    Documents,
    Keep,
    OnePassFit,
    Predictions,
    RunParts,
    files_fingerprint,
    set_label_descriptions,
    stats_from_lists,
    task_params,
    token_unknown_share,
)
from clincode.tasks.coding.batches import CodingCollator, CodingDataset
from clincode.tasks.coding.build import CodingData, build_coding, description_tokens, read_notes, resolve_notes_source
from clincode.tasks.coding.params import CodingParams
from clincode.tasks.coding.submission import codiesp_x_rows, write_codiesp_ranking, write_codiesp_x
from clincode.tasks.params import TaskParams
from clincode.tasks.sampler import bucketed_loader


def coding_params(cfg: RunConfig) -> CodingParams:
    """The run's ``data.params`` (a ValueError for a run of another task)."""
    return task_params(cfg, CodingParams)


def task_key(cfg: RunConfig) -> str:
    assert cfg.data.path is not None
    text = coding_params(cfg)
    payload = {
        "path": str(Path(cfg.data.path).resolve()),
        "fingerprint": files_fingerprint(Path(cfg.data.path)),
        "coding": text.build_config().to_dict(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def cache_dir(cfg: RunConfig) -> Path:
    return Path(cfg.out_dir) / ".cache" / f"coding-{task_key(cfg)}"


def prepare_coding(cfg: RunConfig, *, console: Console | None = None) -> CodingData:
    """Build (or load from cache) the coding task described by ``cfg.data``."""
    console = console or Console(stderr=True)
    if cfg.data.path is None:
        raise ValueError(
            "data.path is not set: give a CodiEsp release directory or a notes table, e.g. --set data.path=path/to/codiesp"
        )
    text = coding_params(cfg)
    resolve_notes_source(Path(cfg.data.path), text.format)  # clear error before any cache work
    cache = cache_dir(cfg)
    cached = load_shared_cache(cache, CodingData.load, console)  # torchrun / srun: the first process builds
    if cached is not None:
        return cached
    data = build_coding(Path(cfg.data.path), text.build_config())
    data.save(cache, overwrite=True)
    rep = data.report
    console.print(
        f"coding task: {rep['documents']} documents, {rep['num_labels']} labels, {rep['num_ccs']} CCS, "
        f"vocabulary {rep['vocab_size']}; codes unseen in train: "
        + ", ".join(f"{s} {v['distinct']} ({v['occurrences']} occurrences)" for s, v in rep["unseen_codes"].items())
    )
    return data


def word2vec_matrix(cfg: RunConfig, data: CodingData) -> np.ndarray:
    """CBOW word2vec [len(vocab), embed_dim] on the training documents (cached per config and seed)."""
    text = coding_params(cfg)
    path = cache_dir(cfg) / f"word2vec-d{text.embed_dim}-e{text.w2v_epochs}-s{cfg.seed}.npy"
    if path.is_file():
        matrix = np.load(path)
        if matrix.shape == (len(data.vocab), text.embed_dim):
            return matrix
    from clincode.data.notes.word2vec import train_word2vec

    matrix = train_word2vec(
        data.training_tokens(), data.vocab, dim=text.embed_dim, epochs=text.w2v_epochs, seed=cfg.seed, workers=1
    )
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, matrix)
    return matrix


def coding_loader(data: CodingData, split: str, cfg: RunConfig, *, shuffle: bool, eval: bool = False) -> DataLoader:
    """Length-bucketed loader of one split (shuffled pools for training, sorted for evaluation)."""
    multitask = coding_params(cfg).ccs
    collate = CodingCollator(data.num_labels, data.num_ccs if multitask else 0)
    return bucketed_loader(CodingDataset(data.split(split)), collate, cfg, shuffle=shuffle, eval=eval)


def coding_label_stats(data: CodingData, split: str = "train") -> LabelStats:
    """ICD label statistics of a split as the loss sees its rows (one row per document, no -1)."""
    return stats_from_lists(data.split(split)["labels"].to_list(), data.num_labels)


def ccs_label_stats(data: CodingData, split: str = "train") -> LabelStats:
    """CCS label statistics of a split (one row per document)."""
    return stats_from_lists(data.split(split)["ccs"].to_list(), data.num_ccs)


def coding_parts(cfg: RunConfig, data: CodingData) -> RunParts:
    """Model (with the inputs this task provides) and fitted loss of a coding run."""
    text = coding_params(cfg)
    accepted = MODELS.params(cfg.model.name)  # unknown names raise, listing the known ones
    params = dict(cfg.model.params)
    if text.ccs:
        if "num_ccs" not in accepted:
            raise ValueError(
                f"data.params.ccs is true but model {cfg.model.name!r} has no CCS head (no num_ccs parameter); "
                "use model.name=marn or set data.params.ccs=false"
            )
        if "num_ccs" in params:
            raise ValueError("model.params.num_ccs is set from the data when data.params.ccs is true; remove it from model.params")
        if data.num_ccs == 0:
            raise ValueError("data.params.ccs is true but no training code maps to a CCS category; set data.params.ccs=false")
        params["num_ccs"] = data.num_ccs
    if text.word2vec and "embed_dim" in accepted:
        model_dim = params.get("embed_dim", accepted["embed_dim"])
        if model_dim != text.embed_dim:
            raise ValueError(
                f"data.params.embed_dim ({text.embed_dim}) differs from model.params.embed_dim ({model_dim}); "
                "word2vec vectors must have the model's embedding size"
            )
    # plm reads wordpiece ids of its own tokenizer (data.params.tokenizer), not the word vocabulary
    vocab_size = len(data.vocab) if text.tokenizer is None else WordpieceEncoding(text.tokenizer).vocab_size
    model = build_model(cfg.model.name, vocab_size=vocab_size, num_labels=data.num_labels, params=params)
    if isinstance(model, LabelCountsHook):  # per-segment models: segments from the training counts
        model.set_label_counts(coding_label_stats(data).positives)
    matrix = None
    if text.word2vec:
        if not isinstance(model, EmbeddingsHook):
            raise ValueError(f"data.params.word2vec is true but model {cfg.model.name!r} has no load_embeddings; set it false")
        matrix = word2vec_matrix(cfg, data)
        model.load_embeddings(torch.from_numpy(matrix))
    extras: dict[str, Any] = {}
    if isinstance(model, LabelDescriptionsHook):
        ids, mask = description_tokens(data.label_space.descriptions(), data.vocab)
        extras["label_descriptions"] = (torch.from_numpy(ids), torch.from_numpy(mask))
        set_label_descriptions(model, extras)
    icd = build_loss(cfg.loss.name, data.num_labels, **cfg.loss.params)
    if text.ccs:
        ccs = build_loss(cfg.loss.name, data.num_ccs, **cfg.loss.params)
        criterion: nn.Module = MultitaskLoss(icd, ccs, text.ccs_weight).fit(coding_label_stats(data), ccs_label_stats(data))
    else:
        criterion = icd.fit(coding_label_stats(data))
    return RunParts(model, criterion, params, vocab_size, data.num_labels, matrix, extras)


@TASKS.register("coding")
class CodingTask:
    """Assign every ICD code of a document (CodiEsp, MIMIC discharge summaries, any notes table)."""

    name: ClassVar[str] = "coding"
    params: ClassVar[type[TaskParams]] = CodingParams
    unit: ClassVar[str] = "document"
    one_pass: ClassVar[Registry[type[Any]]] = CODERS
    output_formats: ClassVar[tuple[str, ...]] = ("table", "codiesp", "codiesp-x")
    frame_order: ClassVar[tuple[str, ...]] = ()  # loader order within each split

    def key(self, cfg: RunConfig) -> str:
        return task_key(cfg)

    def prepare(self, cfg: RunConfig, *, console: Console | None = None) -> CodingData:
        return prepare_coding(cfg, console=console)

    def prepare_for_predict(self, cfg: RunConfig, path: Path, label_space: LabelSpace, vocab: dict[str, Any]) -> CodingData:
        # The notes may be of another kind than the training data (a table instead of CodiEsp).
        config = replace(coding_params(cfg).build_config(), format="auto")
        return build_coding(Path(path), config, fitted=(TextVocab.from_dict(vocab), label_space, []), allow_empty_splits=True)

    def loader(self, data: CodingData, split: str, cfg: RunConfig, *, shuffle: bool, eval: bool = False) -> DataLoader:
        return coding_loader(data, split, cfg, shuffle=shuffle, eval=eval)

    def label_stats(self, data: CodingData, split: str = "train") -> LabelStats:
        return coding_label_stats(data, split)

    def build_parts(self, cfg: RunConfig, data: CodingData) -> RunParts:
        return coding_parts(cfg, data)

    def batch_rows(self, logits: Tensor, batch: dict[str, Tensor], keep: Keep) -> dict[str, np.ndarray]:
        """Logits [B, V] -> one row per document (every document kept)."""
        n = logits.shape[0]
        return {
            "probs": torch.sigmoid(logits).numpy(),
            "targets": batch["targets"].to(torch.int8).numpy(),
            "subject_id": batch["subject_id"].numpy(),
            "visit_index": np.zeros(n, dtype=np.int64),
            "visit_time": np.zeros(n, dtype=np.int64),
            "doc_index": batch["doc_index"].numpy(),
        }

    def prediction_frame(self, data: CodingData, split: str, preds: Predictions, rows: np.ndarray, labels: np.ndarray) -> pl.DataFrame:
        """Identifying columns of the listed (row, label) pairs of one split."""
        assert preds.doc_index is not None
        table = data.split(split)
        doc = preds.doc_index[rows]
        return pl.DataFrame(
            {
                "doc_id": table["doc_id"].gather(doc),
                "subject_id": table["subject_id"].gather(doc),
                "split": np.full(len(rows), split, dtype=object),
            }
        )

    def write_output(
        self, fmt: str, out_file: Path, data: CodingData, preds: dict[str, Predictions], codes: Sequence[str], top_k: int
    ) -> int:
        if fmt not in ("codiesp", "codiesp-x"):
            raise ValueError(f"--format must be one of {', '.join(self.output_formats)}, got {fmt!r}")
        doc_ids: list[str] = []
        for split, p in preds.items():
            assert p.doc_index is not None
            doc_ids += data.split(split)["doc_id"].gather(p.doc_index).to_list()
        if fmt == "codiesp-x":
            return self._write_codiesp_x(out_file, doc_ids, list(preds.values()), list(codes), top_k)
        write_codiesp_ranking(out_file, doc_ids, np.concatenate([p.probs for p in preds.values()]), list(codes), top_k)
        return len(doc_ids)

    @staticmethod
    def _write_codiesp_x(out_file: Path, doc_ids: list[str], preds: list[Predictions], codes: list[str], top_k: int) -> int:
        """CodiEsp-X file: the top-k codes at or above the run's threshold, every evidence span of each."""
        evidence: list[dict[int, list[Any]]] = []
        thresholds = None
        for p in preds:
            if p.evidence is None:
                raise ValueError(
                    "--format codiesp-x needs evidence spans; this run's model gives none "
                    "(use a dictionary coder: model.name mention_dictionary or mention_ranker)"
                )
            if p.thresholds is None:
                raise ValueError("--format codiesp-x applies the run's decision threshold: run `clincode evaluate RUN_DIR` first")
            evidence += p.evidence
            thresholds = p.thresholds
        assert thresholds is not None
        rows = codiesp_x_rows(doc_ids, np.concatenate([p.probs for p in preds]), codes, evidence, thresholds, top_k)
        write_codiesp_x(out_file, rows)
        return len(rows)

    def documents(
        self, cfg: RunConfig, data: CodingData, split: str, path: Path | None = None, *, mentions: bool = False
    ) -> Documents:
        """Text, gold codes and (``mentions=True``) evidence mentions of a split, in the split table's order.

        ``path``: the notes the data were prepared from (default ``data.path``). Evidence mentions
        exist for CodiEsp releases read in Spanish (their offsets index the Spanish text);
        inconsistent evidence rows are skipped and counted on the console, never dropped silently.
        """
        source = Path(path if path is not None else cfg.data.path)  # type: ignore[arg-type]  # a coding run has data.path
        config = coding_params(cfg).build_config()
        if path is not None:
            config = replace(config, format="auto")
        if mentions:
            kind, root = resolve_notes_source(source, config.format)
            if kind != "codiesp":
                raise ValueError(
                    f"{source} is a notes table without evidence spans; the evidence coder needs a CodiEsp release "
                    "(train/, dev/, test/ with {split}X.tsv files), or set model.params.keys_from=terminology"
                )
            if config.language != "es":
                raise ValueError(
                    "CodiEsp evidence spans index the Spanish text: set data.params.language=es, "
                    "or model.params.keys_from=terminology for the English translation"
                )
            from clincode.data.notes import read_codiesp

            notes = read_codiesp(root, language="es", code_types=config.code_types, mentions=True, on_error="skip")
            skipped = {k: v for k, v in notes.skipped.items() if k.startswith("mention_") and v}
            if skipped:
                Console(stderr=True).print(
                    "evidence rows skipped (inconsistent with the text or gold codes): "
                    + ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))
                )
        else:
            notes = read_notes(source, config)
        frame = notes.frame
        ids = data.split(split)["doc_id"].to_list()
        rows = {d: i for i, d in enumerate(frame["doc_id"].to_list())}
        missing = [d for d in ids if d not in rows]
        if missing:
            raise ValueError(f"{len(missing)} document(s) of split {split!r} are not in {source}, e.g. {missing[0]!r}")
        order = [rows[d] for d in ids]
        texts = frame["text"].gather(order).to_list()
        codes = frame["codes"].gather(order).to_list()
        return Documents(ids, texts, codes, notes.mentions_by_doc(ids) if mentions else None)

    # -- one-pass coders (clincode.coders): fitted on the training documents, no gradient steps ------
    def check_one_pass(self, name: str, params: dict[str, Any]) -> None:
        coder_params(name, params)

    def fit_one_pass(self, cfg: RunConfig, data: CodingData, *, console: Console) -> OnePassFit:
        """Fit the coder of ``cfg`` on the training documents; its label space may extend the data's
        (hierarchy back-off: the training labels first, then the codes it added).
        """
        language = coding_params(cfg).language
        _, keys_from = coder_params(cfg.model.name, cfg.model.params)
        coder = build_coder(cfg.model.name, cfg.model.params, language)
        docs = self.documents(cfg, data, "train", mentions=keys_from in ("evidence", "both"))
        if docs.mentions is not None and not any(docs.mentions):
            _, root = resolve_notes_source(Path(cfg.data.path), coding_params(cfg).build_config().format)  # type: ignore[arg-type]  # a coding run has data.path
            raise ValueError(
                f"{Path(root) / 'train' / 'trainX.tsv'} is missing or holds no evidence span of the training documents; "
                f"model.params.keys_from={keys_from} learns from them (add the file, or set model.params.keys_from=terminology)"
            )
        codes = list(data.label_space.codes_)
        descriptions = icd10cm_descriptions(codes) if keys_from in ("terminology", "both") else None
        coder.fit(docs.texts, docs.codes, docs.mentions, codes, descriptions=descriptions)
        fitted = fitted_label_codes(coder)
        if fitted[: len(codes)] != codes:
            raise ValueError(f"coder {cfg.model.name!r} reordered the label columns; expected the training labels first")
        space = data.label_space.extended(fitted[len(codes) :]) if len(fitted) > len(codes) else data.label_space
        if len(space) > len(codes):
            console.print(f"label space extended by {len(space) - len(codes)} codes related to the training codes")
        return OnePassFit(coder, space, {"keys_from": keys_from})

    def predict_one_pass(
        self, model: Any, cfg: RunConfig, data: CodingData, split: str, *, path: Path | None = None, keep: Keep = "targets",
        evidence: bool = False,
    ) -> Predictions:
        """Scores of a split's documents; ``evidence``: also each code's evidence spans, for coders
        that give them (:class:`clincode.coders.EvidenceCoder`).
        """
        docs = self.documents(cfg, data, split, path)
        if evidence and isinstance(model, EvidenceCoder):
            probs, spans = model.predict_with_evidence(docs.texts)
        else:
            probs, spans = model.predict_proba(docs.texts), None
        preds = self.document_predictions(data, split, np.clip(probs, 0.0, 1.0))
        preds.evidence = spans
        return preds

    def split_documents(self, cfg: RunConfig, path: Path, split: str) -> Documents:
        """Text and gold codes of one split of the notes at ``path``, read without encoding them
        (what a one-pass coder needs; :meth:`documents` follows a prepared task's order instead).
        """
        config = replace(coding_params(cfg).build_config(), format="auto")
        frame = read_notes(Path(path), config).frame.filter(pl.col("split") == split)
        return Documents(frame["doc_id"].to_list(), frame["text"].to_list(), frame["codes"].to_list(), None)

    def document_predictions(self, data: CodingData, split: str, probs: np.ndarray) -> Predictions:
        """Predictions of a split scored document by document (row i = row i of the split table)."""
        table = data.split(split)
        n = table.height
        if probs.shape != (n, data.num_labels):
            raise ValueError(f"scores of shape {probs.shape}; expected ({n}, {data.num_labels}) for split {split!r}")
        targets = np.zeros((n, data.num_labels), dtype=np.int8)
        for i, labels in enumerate(table["labels"].to_list()):
            targets[i, labels] = 1
        _, subject = np.unique(table["subject_id"].to_numpy().astype(str), return_inverse=True)
        zeros = np.zeros(n, dtype=np.int64)
        return Predictions(
            probs.astype(np.float32), targets, subject.astype(np.int64), zeros, zeros.copy(), doc_index=np.arange(n, dtype=np.int64)
        )

    def unknown_share(self, data: CodingData) -> tuple[float, int] | None:
        if data.config.tokenizer is not None:  # wordpiece ids of a pretrained tokenizer: no run vocabulary
            return None
        tokens = [np.asarray(t, dtype=np.int64) for name in SPLIT_NAMES for t in data.split(name)["tokens"].to_list()]
        return token_unknown_share(tokens, TEXT_UNK_ID)

    def extra_metrics(self, preds: Predictions, data: CodingData, split: str, *, ks: Sequence[int] = (5, 8, 15)) -> dict[str, Any]:
        if preds.doc_index is None:
            return {}
        return {"coding": coding_summary(preds.probs, preds.targets, preds.doc_index, data.split(split))}
