"""The Python API: the few entry points a training loop or a notebook needs (``import clincode``).

- :func:`build_loss`: any registered loss by name, for your own training loop;
- :func:`load_histories` + :func:`fit_forecaster`: a dataset directory's label histories and a
  one-pass next-visit forecaster fitted on them;
- :func:`load_run` -> :class:`Run`, :meth:`Run.predict`: a finished run directory and its
  predictions on new data, as ``clincode predict`` writes them.

``clincode/__init__.py`` imports this module on first use of one of these names, so that
``import clincode`` (and the command line) stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console

from clincode.config import RunConfig
from clincode.data.splits import SPLIT_NAMES
from clincode.forecasters import FORECASTERS, Histories, HistoryForecaster
from clincode.losses import LossModule
from clincode.losses import build_loss as _build_loss
from clincode.tasks.base import Keep
from clincode.tasks.next_visit.build import build_next_visit
from clincode.tasks.next_visit.params import NextVisitParams
from clincode.tasks.next_visit.task import next_visit_histories
from clincode.train.predict import Rule, predict_frame
from clincode.train.runs import Artefact
from clincode.train.runs import load_run as _load_run

__all__ = ["Run", "build_loss", "fit_forecaster", "load_histories", "load_run"]


def build_loss(name: str, num_labels: int, **params: Any) -> LossModule:
    """The registered loss ``name`` (``clincode list losses``) for ``num_labels`` labels.

    The result is an ``nn.Module``: ``loss(logits, targets)`` takes logits [..., V] (never
    probabilities) and targets [..., V] in {1, 0, -1} (-1: ignored) and returns a scalar tensor.
    Losses that weigh labels by their frequency (``weighted_bce``, ``class_balanced``, ...) count
    the labels of each batch unless fitted first on the training split's counts, as ``clincode
    train`` does: ``loss.fit(clincode.losses.LabelStats.from_targets([train_targets]))``. A loss
    with parameters of its own (the dependency matrix W of ``dependency_aware``) has them in
    ``loss.parameters()``: optimise them with the model's.

    Raises ``KeyError`` for an unknown name (listing the known ones) and ``TypeError`` for a
    parameter the loss does not accept (listing the accepted ones).
    """
    return _build_loss(name, num_labels, **params)


def load_histories(
    path: str | Path,
    *,
    num_labels: int | None = NextVisitParams.model_fields["num_labels"].default,
    label_level: str = "code",
    keep: Keep = "targets",
) -> dict[str, Histories]:
    """Every split's label histories of a MEDS dataset directory, what a forecaster fits on.

    ``path``: a MEDS directory (``clincode synth ehr``, ``clincode prepare ehr`` or any MEDS
    export with ``metadata/subject_splits.parquet``). The label space is built as the next-visit
    task builds it: the ``num_labels`` most frequent diagnosis codes of the training split (None:
    all), at ``label_level`` ``code``, ``category`` or ``ccs``; patients with fewer than two
    visits are dropped. ``keep="targets"``: one row per visit that has a next visit (what is
    scored, with ``Histories.target_matrix()``); ``"visits"``: every visit, each patient's last
    included (the forecast of the unseen next visit).

    Returns ``{"train": ..., "tuning": ..., "held_out": ...}``; raises ``DataError`` (a
    ``ValueError``) naming the file or column when the directory is not a MEDS dataset.
    """
    path = Path(path)
    data = build_next_visit(path, num_labels=num_labels, label_level=label_level, progress=False)
    return {name: next_visit_histories(data, name, keep=keep, source=path) for name in SPLIT_NAMES}


def fit_forecaster(name: str, train: Histories, tuning: Histories | None = None, **params: Any) -> HistoryForecaster:
    """A fitted one-pass next-visit forecaster (``prevalence``, ``repeat_table``, ``group_table``,
    ``tifu_knn``, ``history_bayes``, ``oracle``).

    Fitted on ``train``; settings left at None (``repeat_table``'s smoothing, ``tifu_knn``'s
    ``k`` and ``alpha``, ...) are chosen on ``tuning`` when given. ``params`` are the
    forecaster's (``clincode list models``). Apply it with ``forecaster.predict_proba(histories)``:
    an (N, V) float array, the probability of each label at each row's next visit. ``oracle``
    and ``history_bayes`` need histories of a synthetic cohort (``load_histories`` records where they come from).

    Raises ``KeyError`` for an unknown name (listing the known ones) and ``ValueError`` for a
    parameter the forecaster does not accept.
    """
    return FORECASTERS.check_params(name, params)(**params).fit(train, tuning)


@dataclass(frozen=True)
class Run:
    """A finished run directory (``clincode train``), loaded: config, label space, model.

    Attributes:
        path: the run directory.
        config: its resolved run config.
        artefact: the contents of ``model.ckpt`` (model and loss state, label space, vocabulary,
            thresholds).
    """

    path: Path
    config: RunConfig
    artefact: Artefact

    @property
    def label_codes(self) -> list[str]:
        """The V codes of the run's label space, in column order."""
        return list(self.artefact.label_space["codes"])

    def build_model(self) -> Any:
        """The trained network (``nn.Module`` in eval mode: batch -> logits) or the fitted one-pass model."""
        return self.artefact.build_model()

    def predict(
        self,
        data: str | Path,
        *,
        split: str | None = None,
        top_k: int = 10,
        rule: Rule = "global",
        max_unknown: float = 0.5,
        console: Console | None = None,
    ) -> pl.DataFrame:
        """Predictions on ``data``, the table ``clincode predict`` writes, as a polars DataFrame.

        ``data``: a MEDS directory for a next-visit run (one row per patient, visit and listed
        code: ``subject_id``, ``split``, ``visit_index``, ``visit_time``), a CodiEsp release or
        notes table for a coding run (rows per document and code). Columns ``rank``, ``code``,
        ``description``, ``probability``, ``alert`` (at or above the run's threshold under
        ``rule``: ``global``, ``per_label`` or ``0.5``) follow; listed codes are the ``top_k`` most
        probable plus every alert. The data are encoded with the run's vocabulary and label
        space. ``split``: only that split of ``data`` (default: all). Raises ``ValueError`` with
        the reason (bad argument, no rows, too many tokens outside the vocabulary).
        """
        quiet = console if console is not None else Console(stderr=True, quiet=True)
        return predict_frame(
            self.artefact, self.config, self.path, Path(data), top_k=top_k, split=split, rule=rule,
            console=quiet, max_unknown=max_unknown,
        )  # fmt: skip


def load_run(run_dir: str | Path) -> Run:
    """The finished run in ``run_dir``: ``load_run("runs/next_visit").predict("data/synth")``.

    Raises ``RunError`` (a ``ValueError``) saying what is missing when the directory does not
    exist or the run has not finished (no ``model.ckpt``).
    """
    artefact, cfg = _load_run(Path(run_dir))
    return Run(Path(run_dir), cfg, artefact)
