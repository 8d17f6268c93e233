"""Train one run: config -> prepared data -> model + loss -> Lightning -> artefact -> evaluation.

Re-running the same command on an unfinished run resumes from ``checkpoints/last.ckpt``; on a
finished run it does nothing. A run directory holding a different config is never overwritten
unless asked.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import random
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import yaml
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.utilities.exceptions import SIGTERMException
from rich.console import Console

from clincode.config import RunConfig, config_to_yaml
from clincode.io import write_json, write_text
from clincode.launch import is_first_process
from clincode.losses.registry import LOSSES
from clincode.models import MODELS
from clincode.registry import UnknownNameError
from clincode.tasks import task_for
from clincode.tasks.base import OnePassTask, one_pass_names, one_pass_owner, resolve_data
from clincode.train.environment import environment
from clincode.train.evaluate import evaluate_run
from clincode.train.module import ClincodeModule
from clincode.train.one_pass import fit_one_pass_run
from clincode.train.runs import ARTEFACT, Artefact, RunError, run_dir_for


def _check_run_dir(run_dir: Path, cfg: RunConfig, overwrite: bool) -> None:
    if overwrite and not is_first_process():
        # Every rank of a multi-process launch runs the command; only the first may delete the
        # old run directory, or a later rank would remove it while rank 0 is training.
        return
    saved_path = run_dir / "config.yaml"
    if not saved_path.exists():
        if run_dir.exists() and any(run_dir.iterdir()) and not overwrite:
            raise RunError(f"{run_dir} exists and is not a clincode run; choose another name or pass --overwrite")
        return
    if overwrite:
        shutil.rmtree(run_dir)
        return
    saved = _current_layout(yaml.safe_load(saved_path.read_text()))
    current = cfg.model_dump(mode="json")
    # Keys added to the config later with a null default do not count as a change.
    diff = sorted(_diff_keys(saved, current))
    if diff:
        raise RunError(
            f"{run_dir} holds a run with a different config (differs in: {', '.join(diff)}); "
            "set another name (--set name=...) or pass --overwrite"
        )


def _current_layout(saved: Any) -> Any:
    """A saved config in the current layout (data settings under data.params), as it was saved when
    it no longer validates (the comparison then names what differs).
    """
    try:
        return resolve_data(RunConfig.model_validate(saved)).model_dump(mode="json")
    except (ValueError, TypeError):
        return saved


def _diff_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in set(a) | set(b):
            out += _diff_keys(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


class _ContinuingWriter(ExperimentWriter):
    """Lightning's CSV writer deletes an existing ``metrics.csv``; a resumed run keeps it instead.

    Rows logged at or after ``resume_step`` (the resumed checkpoint's global step) were written
    after that checkpoint by the interrupted process and are about to be logged again, so they
    are dropped; the rest of the old log stays and the resumed run appends to it.
    """

    def __init__(self, log_dir: str, resume_step: int | None) -> None:
        self.resume_step = resume_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if self.resume_step is None or not path.is_file():
            super()._check_log_dir_exists()
            return
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            keys = list(reader.fieldnames or [])
            rows = [r for r in reader if r.get("step", "") != "" and int(float(r["step"])) < self.resume_step]
        tmp = path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(path)
        self.metrics_keys = sorted(keys)


class _ContinuingCSVLogger(CSVLogger):
    def __init__(self, run_dir: Path, resume_step: int | None) -> None:
        super().__init__(run_dir, name="logs", version="")
        self._resume_step = resume_step

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(self.log_dir, self._resume_step)
        return self._experiment  # type: ignore[return-value]  # always the _ContinuingWriter set here


def _checkpoint_step(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return int(torch.load(path, map_location="cpu", weights_only=False, mmap=True).get("global_step", 0))
    except Exception as exc:  # a checkpoint cut short by a kill during its write, or another file
        raise RunError(
            f"{path} is damaged ({type(exc).__name__}: {str(exc)[:120]}); delete it to restart training from "
            "the beginning (or pass --overwrite to start the run afresh)"
        ) from None


@contextlib.contextmanager
def _no_empty_dirs_left(dirs: list[Path]) -> Iterator[None]:
    """On failure, remove the directories of ``dirs`` this block created and left empty."""
    existed = {d: d.exists() for d in dirs}
    try:
        yield
    except BaseException:
        for d in reversed(dirs):
            if not existed[d] and d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        raise


@contextlib.contextmanager
def _lightning_logs(level: int | None) -> Iterator[None]:
    """Lightning's loggers at ``level`` for the duration (None: unchanged)."""
    names = ("lightning.pytorch", "lightning.fabric", "lightning")
    before = {n: logging.getLogger(n).level for n in names}
    if level is not None:
        for n in names:
            logging.getLogger(n).setLevel(level)
    try:
        yield
    finally:
        for n, lv in before.items():
            logging.getLogger(n).setLevel(lv)


class RngState(L.Callback):
    """Python, numpy and torch random states in every checkpoint, restored on resume.

    Lightning restores the model, optimiser and loop counters but not the global random generators,
    so without this a resumed run draws other dropout masks than the uninterrupted run would.
    """

    def state_dict(self) -> dict[str, Any]:
        # Plain tensors, tuples and numbers only: Lightning loads checkpoints with weights_only.
        name, keys, pos, has_gauss, cached = np.random.get_state()
        state: dict[str, Any] = {
            "python": random.getstate(),
            "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)),  # type: ignore[attr-defined]  # the legacy tuple state
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        random.setstate(state_dict["python"])
        name, keys, pos, has_gauss, cached = state_dict["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        torch.set_rng_state(state_dict["torch"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


class RunInterrupted(RunError):
    """Training was stopped by a signal before it finished (the run stays resumable)."""


def build_trainer(
    cfg: RunConfig, run_dir: Path, resume: Path | None = None, *, quiet: bool = False
) -> tuple[L.Trainer, ModelCheckpoint]:
    """The Lightning trainer of a run; ``resume`` (a checkpoint) keeps the run's CSV log going.

    ``quiet``: no progress bar and no model summary whatever ``trainer.progress`` says.
    """
    tc = cfg.trainer
    show = tc.progress and not quiet
    ckpt = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="best",
        monitor=tc.monitor,
        mode=tc.monitor_mode,
        save_last=True,
        save_top_k=1,
        enable_version_counter=False,
    )
    callbacks: list[Any] = [ckpt, EarlyStopping(monitor=tc.monitor, mode=tc.monitor_mode, patience=tc.patience), RngState()]
    if show:
        callbacks.append(RichProgressBar(leave=True))
    trainer = L.Trainer(
        default_root_dir=run_dir,
        max_epochs=tc.max_epochs,
        accelerator=tc.accelerator,
        devices=tc.devices,
        num_nodes=tc.num_nodes,
        strategy=tc.strategy,
        precision=tc.precision,  # type: ignore[arg-type]  # a validated string for Lightning's precision Literal
        gradient_clip_val=tc.gradient_clip_val,
        logger=_ContinuingCSVLogger(run_dir, _checkpoint_step(resume)),
        callbacks=callbacks,
        enable_progress_bar=show,
        enable_model_summary=show,
        limit_train_batches=tc.limit_train_batches,
        deterministic=tc.deterministic,
        log_every_n_steps=5,
        num_sanity_val_steps=0,
        # Keep our LengthBucketBatchSampler: under DDP it shards each global batch by rank itself
        # (clincode.tasks.sampler); Lightning's DistributedSampler would replace it.
        use_distributed_sampler=False,
    )
    return trainer, ckpt


def train_run(
    cfg: RunConfig, *, overwrite: bool = False, console: Console | None = None, evaluate: bool = True, quiet: bool = False
) -> Path:
    """Train (or resume) the run described by ``cfg``; returns its run directory.

    ``quiet``: no progress bars, model summary or Lightning banners (benchmarks and the demo print one
    line per run and keep the rest in the run's log).
    """
    console = console or Console(stderr=True)
    cfg = resolve_data(cfg)  # data.params checked and filled in: what the run directory saves
    run_dir = run_dir_for(cfg)
    _check_run_dir(run_dir, cfg, overwrite)
    if (run_dir / ARTEFACT).exists() and (run_dir / "metrics.json").exists():
        console.print(f"[green]run {run_dir} is already complete[/green]")
        return run_dir
    # Everything that can reject the input (data, model and loss parameters) runs before the run
    # directory is written, so a failed start leaves nothing behind.
    # Unknown names and parameters fail before any data work (nothing is written yet).
    LOSSES.check_params(cfg.loss.name, dict(cfg.loss.params))
    task = task_for(cfg)
    # One choice, from model.name: a model fitted in one pass by its task, or a network trained by gradient.
    owner = one_pass_owner(cfg.model.name)
    if owner is not None:
        if not isinstance(task, owner) or not isinstance(task, OnePassTask):
            raise ValueError(f"model {cfg.model.name!r} is a one-pass model of the {owner.name} task; data.task is {task.name!r}")  # type: ignore[attr-defined]  # task classes all have a name
        task.check_one_pass(cfg.model.name, dict(cfg.model.params))
    else:
        try:
            MODELS.get(cfg.model.name)
        except KeyError as exc:
            others = "; ".join(f"one-pass models of {t}: {', '.join(n)}" for t, n in one_pass_names().items())
            raise UnknownNameError(f"{exc}; {others}") from None
        MODELS.check_params(cfg.model.name, dict(cfg.model.params))
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    with _no_empty_dirs_left([Path(cfg.out_dir), Path(cfg.out_dir) / ".cache"]):
        data = task.prepare(cfg, console=console)
    if owner is not None:
        fit_one_pass_run(cfg, task, data, run_dir, console=console)
        if evaluate:
            evaluate_run(run_dir, data=data, console=console)
        return run_dir
    num_labels = data.num_labels
    parts = task.build_parts(cfg, data)
    model, criterion = parts.model, parts.criterion
    run_dir.mkdir(parents=True, exist_ok=True)
    parts.write_files(run_dir)
    write_text(run_dir / "config.yaml", config_to_yaml(cfg))
    write_json(run_dir / "environment.json", environment(cfg.seed))
    meta = {"config": cfg.model_dump(mode="json")}
    module = ClincodeModule(model, criterion, cfg.optim, num_labels, run_meta=meta)

    last = run_dir / "checkpoints" / "last.ckpt"
    resume = last if last.exists() else None
    trainer, ckpt = build_trainer(cfg, run_dir, resume, quiet=quiet)
    if resume:
        console.print(f"resuming from {resume}")
    train_loader = task.loader(data, "train", cfg, shuffle=True)
    val_loader = task.loader(data, "tuning", cfg, shuffle=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        try:
            with _lightning_logs(logging.WARNING if quiet else None):
                trainer.fit(module, train_loader, val_loader, ckpt_path=resume)
        except SIGTERMException:
            # Lightning turns SIGTERM (what SLURM and Kubernetes send on pre-emption) into a
            # SystemExit with status 0; the run is not finished, so say so and exit non-zero.
            raise RunInterrupted(
                f"training of {run_dir} was stopped by SIGTERM before it finished; run the same command again "
                "to resume from checkpoints/last.ckpt"
            ) from None
    if trainer.global_rank != 0:
        # Multi-process runs: rank 0 alone writes the artefact and evaluates (the other ranks'
        # copies would duplicate the work and, across nodes, may not see rank 0's checkpoint).
        return run_dir

    best = Path(ckpt.best_model_path) if ckpt.best_model_path else last
    state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
    module.load_state_dict(state)
    artefact = Artefact(
        config=cfg.model_dump(mode="json"),
        model_name=cfg.model.name,
        model_params=parts.model_params,
        vocab_size=parts.vocab_size,
        num_labels=num_labels,
        model_state={k: v.detach().cpu() for k, v in module.model.state_dict().items()},
        loss_name=cfg.loss.name,
        loss_params=dict(cfg.loss.params),
        loss_state={k: v.detach().cpu() for k, v in parts.loss_to_save().state_dict().items()},
        label_space=data.label_space.to_dict(),
        vocab=data.vocab.to_dict(),
        thresholds=None,
        extras=parts.artefact_extras,
    )
    artefact.save(run_dir / ARTEFACT)
    console.print(f"best checkpoint {best.name}: {cfg.trainer.monitor} = {_score(ckpt)}")
    if evaluate:
        evaluate_run(run_dir, data=data, console=console)
    return run_dir


def _score(ckpt: ModelCheckpoint) -> str:
    s = ckpt.best_model_score
    return f"{float(s):.4f}" if s is not None else "n/a"
