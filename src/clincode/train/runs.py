"""Run directories: layout, the final model artefact, loading it back.

Layout of ``<out_dir>/<name>/``::

    config.yaml          resolved config (what was actually run)
    environment.json     seed, package versions, git revision, command line
    checkpoints/         Lightning checkpoints: best.ckpt, last.ckpt (resume from last)
    logs/metrics.csv     per-step / per-epoch training and validation logs (CSV logger)
    model.ckpt           final artefact: model + loss state + label space + vocab + thresholds + config
    thresholds.json      decision thresholds tuned on the tuning split
    metrics.json         held-out evaluation; metrics.md the same as a readable table
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from clincode.config import RunConfig
from clincode.io import atomic_path
from clincode.losses import build_loss
from clincode.models import build_model
from clincode.tasks import TASKS  # noqa: F401  (registers every task, and with them their one-pass models)
from clincode.tasks.base import one_pass_owner, resolve_data, set_label_descriptions

ARTEFACT = "model.ckpt"


class RunError(ValueError):
    """A run directory is missing or incomplete; the message says what is missing."""


def run_dir_for(cfg: RunConfig) -> Path:
    return Path(cfg.out_dir) / cfg.name


@dataclass
class Artefact:
    """Everything needed to use a trained model, as saved in ``model.ckpt``."""

    config: dict[str, Any]
    model_name: str
    model_params: dict[str, Any]
    vocab_size: int
    num_labels: int
    model_state: dict[str, torch.Tensor]
    loss_name: str
    loss_params: dict[str, Any]
    loss_state: dict[str, torch.Tensor]
    label_space: dict[str, Any]
    vocab: dict[str, Any]
    thresholds: dict[str, Any] | None
    # Inputs a model needs besides its state, e.g. coding runs' label description tokens for a
    # model with set_label_descriptions (DR-CAML); empty for older artefacts.
    extras: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            torch.save(self.__dict__, tmp)

    @classmethod
    def load(cls, path: Path) -> Artefact:
        if not path.is_file():
            raise RunError(f"{path} does not exist: the run has not finished training (run `clincode train` again to resume)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:  # truncated or foreign file: say which and what to do
            raise RunError(
                f"{path} is damaged or not a clincode artefact ({type(exc).__name__}: {str(exc)[:120]}); "
                "delete it and run `clincode train` with the run's config again to rebuild it from checkpoints/"
            ) from None
        if not isinstance(state, dict) or "model_name" not in state:
            raise RunError(f"{path} is not a clincode artefact (expected the final model.ckpt of a run)")
        return cls(**state)

    def build_model(self) -> Any:
        """The trained network (eval mode), or the fitted model of a one-pass run (a coder, a forecaster)."""
        state = self.extras.get("one_pass_state", self.extras.get("coder_state"))  # coder_state: runs saved before the seam
        if state is not None:
            owner = one_pass_owner(self.model_name)
            if owner is None:
                raise RunError(f"the run's model {self.model_name!r} is no longer a registered one-pass model")
            return owner.one_pass.get(self.model_name).from_dict(state)
        model = build_model(self.model_name, vocab_size=self.vocab_size, num_labels=self.num_labels, params=self.model_params)
        set_label_descriptions(model, self.extras)
        model.load_state_dict(self.model_state)
        return model.eval()

    def build_loss(self) -> torch.nn.Module:
        loss = build_loss(self.loss_name, self.num_labels, **self.loss_params)
        loss.load_state_dict(self.loss_state, strict=False)
        return loss


def load_run(run_dir: Path) -> tuple[Artefact, RunConfig]:
    """The final artefact of a finished run and its config; clear errors for anything missing."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"run directory {run_dir} does not exist")
    artefact = Artefact.load(run_dir / ARTEFACT)
    # A run saved before data.params holds the data settings directly under data: mapped into params.
    return artefact, resolve_data(RunConfig.model_validate(artefact.config))
