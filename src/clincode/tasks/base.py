"""What a task is: the :class:`Task` protocol, the ``TASKS`` registry and the shared pieces.

A task turns a data source into rows a model learns from, and back into something a user reads.
It owns everything that differs between next-visit forecasting and text coding:

- its cache key (data config + a fingerprint of the input files) and ``prepare`` (build or load
  the prepared data, memory-mapped where it can be);
- ``prepare_for_predict``: new data encoded with a trained run's own vocabulary and label space;
- loaders of a split and the label statistics of a split, exactly as the loss sees its rows;
- the model and loss of a run (:class:`RunParts`), with the model inputs the task provides
  (word2vec embeddings, label descriptions, multitask heads, prior initialisation);
- one row of predictions per scored unit (:meth:`Task.batch_rows`), the prediction frame of
  ``clincode predict``, the output formats it writes and its extra metrics.

``train/`` asks :func:`task_for` once per command and never branches on the task again. A new task
is one folder under ``tasks/`` and one registration; its settings (``data.params``) are a
:class:`~clincode.tasks.params.TaskParams` schema kept in that folder and named by the task's
``params`` class attribute, which :func:`task_params` validates (:func:`resolve_data`: the run
config with them filled in, what every command does first).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

import numpy as np
import polars as pl
import torch
from pydantic import ValidationError
from rich.console import Console
from torch import Tensor, nn
from torch.utils.data import DataLoader

from clincode.config import ConfigError, DataConfig, RunConfig
from clincode.io import atomic_path
from clincode.losses import LabelStats, MultitaskLoss
from clincode.models import LabelDescriptionsHook
from clincode.registry import ParamsError, Registry, UnknownNameError
from clincode.tasks.params import TaskParams

if TYPE_CHECKING:
    from clincode.data.labels import LabelSpace

Keep = Literal["targets", "visits"]
ROW_FIELDS = ("probs", "targets", "subject_id", "visit_index", "visit_time")


@dataclass
class Predictions:
    """Per-row outputs: one row per scored unit (a (patient, visit) or a document).

    probs [N, V] float32, targets [N, V] int8 in {1, 0, -1}, subject_id / visit_index / visit_time [N];
    for documents, visit_index and visit_time are 0 and doc_index [N] is the row in the split table.
    ``evidence`` (coders that give it, when asked): per row, label index -> its evidence spans
    (:class:`clincode.coders.Span`); ``thresholds`` [V]: the decision thresholds of the rule a
    prediction output applies, when the caller sets them.
    """

    probs: np.ndarray
    targets: np.ndarray
    subject_id: np.ndarray
    visit_index: np.ndarray
    visit_time: np.ndarray
    doc_index: np.ndarray | None = None
    evidence: list[dict[int, list[Any]]] | None = None
    thresholds: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.probs.shape[0])


@dataclass
class RunParts:
    """A run's model and loss, the model parameters actually used, and files / artefact extras."""

    model: nn.Module
    criterion: nn.Module
    model_params: dict[str, Any]
    vocab_size: int
    num_labels: int
    word2vec: np.ndarray | None = None
    artefact_extras: dict[str, Any] = field(default_factory=dict)

    def loss_to_save(self) -> nn.Module:
        """The loss whose state goes into the artefact (the ICD part of a multitask loss)."""
        return self.criterion.icd if isinstance(self.criterion, MultitaskLoss) else self.criterion

    def write_files(self, run_dir: Path) -> None:
        if self.word2vec is not None:
            with atomic_path(Path(run_dir) / "word2vec.npy") as tmp:
                with open(tmp, "wb") as handle:
                    np.save(handle, self.word2vec)


class TaskData(Protocol):
    """What every prepared task offers the task-agnostic code."""

    label_space: LabelSpace
    vocab: Any

    @property
    def num_labels(self) -> int: ...

    def split(self, name: str) -> pl.DataFrame: ...


class Task(Protocol):
    """A prediction task (see the module docstring for what it owns)."""

    name: ClassVar[str]
    #: the schema of the task's ``data.params`` (kept in the task's folder).
    params: ClassVar[type[TaskParams]]
    #: what one input unit is called in messages ("patient", "document").
    unit: ClassVar[str]
    #: ``clincode predict --format`` values this task writes ("table" is handled generically).
    output_formats: ClassVar[tuple[str, ...]]
    #: columns that order the rows of the ``table`` prediction output.
    frame_order: ClassVar[tuple[str, ...]]

    def key(self, cfg: RunConfig) -> str: ...

    def prepare(self, cfg: RunConfig, *, console: Console | None = None) -> TaskData: ...

    def prepare_for_predict(self, cfg: RunConfig, path: Path, label_space: LabelSpace, vocab: dict[str, Any]) -> TaskData: ...

    def loader(self, data: Any, split: str, cfg: RunConfig, *, shuffle: bool, eval: bool = False) -> DataLoader: ...

    def label_stats(self, data: Any, split: str = "train") -> LabelStats: ...

    def build_parts(self, cfg: RunConfig, data: Any) -> RunParts: ...

    def batch_rows(self, logits: Tensor, batch: dict[str, Tensor], keep: Keep) -> dict[str, np.ndarray]: ...

    def prediction_frame(
        self, data: Any, split: str, preds: Predictions, rows: np.ndarray, labels: np.ndarray
    ) -> pl.DataFrame: ...

    def write_output(self, fmt: str, out_file: Path, data: Any, preds: dict[str, Predictions], codes: Sequence[str], top_k: int) -> int: ...

    def extra_metrics(self, preds: Predictions, data: Any, split: str, *, ks: Sequence[int] = (5, 8, 15)) -> dict[str, Any]: ...

    def unknown_share(self, data: Any) -> tuple[float, int] | None:
        """(share of input tokens outside the vocabulary, number of tokens) over every split, or None
        when the inputs have no vocabulary of the run's own (e.g. a pretrained tokenizer).
        """
        ...


def token_unknown_share(tokens: Sequence[np.ndarray], unk_id: int) -> tuple[float, int]:
    """Share of ``unk_id`` among the concatenated ``tokens`` (0 for no token) and their count."""
    n = int(sum(len(t) for t in tokens))
    unknown = int(sum(int(np.count_nonzero(np.asarray(t) == unk_id)) for t in tokens))
    return (unknown / n if n else 0.0), n


@dataclass
class Documents:
    """The documents of one split, in the order of the split table: what a one-pass coder reads."""

    doc_ids: list[str]
    texts: list[str]
    codes: list[list[str]]
    #: evidence mentions of each document (dicts with code, type, text, starts, ends); None when
    #: the source has none.
    mentions: list[list[dict[str, Any]]] | None


@runtime_checkable
class DocumentTask(Protocol):
    """A task whose units are documents with text: one-pass coders (``clincode.coders``) run on it."""

    def documents(self, cfg: RunConfig, data: Any, split: str, path: Path | None = None, *, mentions: bool = False) -> Documents: ...

    def document_predictions(self, data: Any, split: str, probs: np.ndarray) -> Predictions: ...


@dataclass
class OnePassFit:
    """A model fitted in one pass (no gradient steps), the label space of its columns and what the
    task saves with it (``extras`` of the artefact).
    """

    model: Any
    label_space: LabelSpace
    extras: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class OnePassTask(Protocol):
    """A task that feeds models fitted in one pass over its training split (no gradient steps):
    the coders of documents, the history forecasters of next visits.

    ``one_pass`` registers the model classes (each with ``fit`` / ``predict_proba`` of the task's
    own inputs, ``to_dict`` and ``from_dict``); ``train/`` chooses between a gradient run and a
    one-pass run once, from ``model.name``, and asks the task for the rest.
    """

    one_pass: ClassVar[Registry[type[Any]]]

    def check_one_pass(self, name: str, params: dict[str, Any]) -> None:
        """Raise a ValueError naming an unknown or out-of-range parameter (before any data work)."""
        ...

    def fit_one_pass(self, cfg: RunConfig, data: Any, *, console: Console) -> OnePassFit: ...

    def predict_one_pass(
        self, model: Any, cfg: RunConfig, data: Any, split: str, *, path: Path | None = None, keep: Keep = "targets",
        evidence: bool = False,
    ) -> Predictions: ...


@runtime_checkable
class InMemoryBuildTask(Protocol):
    """A task whose data can be built straight from a dataset path, in memory: no cache, no progress bar.

    What the commands outside a run use (``clincode segments``, the demo's label cap) to see a
    dataset exactly as the task's training path would, without a run directory.
    """

    def build_in_memory(self, path: Path, cfg: RunConfig | None = None, **settings: Any) -> TaskData:
        """The task's data of the dataset at ``path``: the data settings of ``cfg`` (the task's
        build defaults without it), ``settings`` on top (e.g. ``num_labels=None``: every label).
        """
        ...


@runtime_checkable
class ReferenceModelsTask(Protocol):
    """A task whose benchmarks add rows of one-pass reference models (the next-visit history baselines)."""

    def reference_models(self, cfg: RunConfig) -> list[str]:
        """Names of the one-pass models a benchmark of runs like ``cfg`` is compared with (none for a
        run of one of them).
        """
        ...


TASKS: Registry[type[Task]] = Registry("task", schema=lambda cls: cls.params)
#: The task of a config whose ``data.task`` is unset.
DEFAULT_TASK = "next_visit"
P = TypeVar("P", bound=TaskParams)


def one_pass_owner(model_name: str) -> type[OnePassTask] | None:
    """The task class whose one-pass models include ``model_name`` (None: a network, trained by gradient)."""
    for _, cls in TASKS.items():
        registry = getattr(cls, "one_pass", None)
        if registry is not None and model_name in registry:
            return cls  # type: ignore[return-value]  # a task class with one-pass models
    return None


def one_pass_names() -> dict[str, list[str]]:
    """Task name -> its one-pass model names."""
    return {name: cls.one_pass.names() for name, cls in TASKS.items() if getattr(cls, "one_pass", None) is not None}  # type: ignore[attr-defined]  # getattr-checked


def task_name(cfg: RunConfig) -> str:
    """``data.task``, or the default task when it is unset."""
    return cfg.data.task or DEFAULT_TASK


def task_for(cfg: RunConfig) -> Task:
    """The task of a run config (``data.task``); its ``data.params`` checked first (:func:`data_params`)."""
    data_params(cfg)
    return TASKS.get(task_name(cfg))()


def _flat_old_layout(old: dict[str, Any]) -> dict[str, Any]:
    # A section of the old layout (a mapping, e.g. data.text) contributes its keys dotted.
    out: dict[str, Any] = {}
    for key, value in old.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def data_params(cfg: RunConfig) -> TaskParams:
    """The run's ``data.params`` validated by its task's schema, defaults filled in.

    Keys of the layout before ``params`` (``data.num_labels``, ``data.text.min_df``) are mapped by
    the schema's :meth:`~clincode.tasks.params.TaskParams.old_layout_key`. Raises one
    :class:`ConfigError` naming the key: an unknown task, an unknown or invalid key, or an old-layout
    key and the same key in ``data.params`` with different values.
    """
    name = task_name(cfg)
    try:
        schema = TASKS.get(name).params
    except UnknownNameError as exc:
        raise ConfigError(f"data.task: {exc}") from None
    params = dict(cfg.data.params)
    fields = list(schema.model_fields)
    mapped: dict[str, str] = {}
    for old_key, value in _flat_old_layout(cfg.data.old_layout).items():
        key = schema.old_layout_key(old_key)
        if key is None:
            continue
        if key not in schema.model_fields:
            raise ConfigError(f"unknown key 'data.{old_key}'; the settings of task {name!r} are data.params: {', '.join(fields)}")
        if key in params and params[key] != value:
            where = f"data.{mapped[key]}" if key in mapped else f"data.params.{key}"
            raise ConfigError(
                f"data.{old_key} is {value!r} but {where} is {params[key]!r}: set {key!r} once, as data.params.{key}"
            )
        params[key] = value
        mapped[key] = old_key
    try:
        TASKS.check_params(name, params)
    except ParamsError as exc:
        raise ConfigError(f"invalid data.params: {exc}") from None
    try:
        return schema.model_validate(params)
    except ValidationError as err:
        details = "; ".join(f"data.params.{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"invalid data.params of task {name!r}: {details}") from None


def task_params(cfg: RunConfig, schema: type[P]) -> P:
    """:func:`data_params` of a run whose task has the params ``schema`` (a ValueError for another task)."""
    params = data_params(cfg)
    if not isinstance(params, schema):
        raise ValueError(f"this run's data.task is {task_name(cfg)!r}, not a task with {schema.__name__}")
    return params


def resolve_data(cfg: RunConfig) -> RunConfig:
    """The run config with ``data.task`` set and ``data.params`` validated, complete and in the
    current layout (what a run directory saves); the first step of every command.
    """
    params = data_params(cfg)
    data = DataConfig(task=task_name(cfg), path=cfg.data.path, params=params.model_dump(mode="json"))
    return cfg.model_copy(update={"data": data})


def files_fingerprint(path: Path, patterns: Sequence[str] = ("*",)) -> str:
    """Hash of the relative names, sizes and modification times of the files under ``path``.

    Cheap (no data read); a single file is hashed by its own name. ``patterns`` restrict the files
    (glob patterns, matched recursively, each pattern's files sorted).
    """
    h = hashlib.sha256()
    path = Path(path)
    if path.is_file():
        files = [path]
    else:
        files = [f for pattern in patterns for f in sorted(p for p in path.rglob(pattern) if p.is_file())]
    for f in files:
        st = f.stat()
        name = f.name if f == path else f.relative_to(path)
        h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def stats_from_lists(lists: Sequence[Sequence[int]], num_labels: int) -> LabelStats:
    """Label statistics of rows given as lists of positive label columns (no ignored entries)."""
    counts = np.asarray([len(x) for x in lists], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = np.asarray([i for x in lists for i in x], dtype=np.int64)
    positives = np.bincount(indices, minlength=num_labels).astype(np.int64)
    n = len(lists)
    return LabelStats(positives=positives, valid=np.full(num_labels, n, dtype=np.int64), n_rows=n, indptr=indptr, indices=indices)


def set_label_descriptions(model: nn.Module, extras: dict[str, Any]) -> None:
    """Give a model with ``set_label_descriptions`` the description tensors saved with its run."""
    if isinstance(model, LabelDescriptionsHook) and "label_descriptions" in extras:
        ids, mask = extras["label_descriptions"]
        model.set_label_descriptions(torch.as_tensor(ids, dtype=torch.long), torch.as_tensor(mask, dtype=torch.bool))
