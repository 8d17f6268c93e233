"""clincode: multi-label clinical code prediction under extreme label imbalance.

The Python API (documented in README.md, "Python API", and docs/usage.md):

- ``build_loss(name, num_labels, **params)``: a registered loss, ``loss(logits, targets)``;
- ``load_histories(path, num_labels=...)``: a MEDS directory's label histories per split;
- ``fit_forecaster(name, train, tuning, **params)``: a fitted one-pass next-visit forecaster;
- ``load_run(run_dir)`` -> ``Run``; ``Run.predict(data)``: a finished run's predictions table.

They live in :mod:`clincode.api`, imported on first access, so ``import clincode`` (and with it
the command line) does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = ("Run", "build_loss", "fit_forecaster", "load_histories", "load_run")
__all__ = ["Run", "__version__", "build_loss", "fit_forecaster", "load_histories", "load_run"]

if TYPE_CHECKING:
    from clincode.api import Run as Run
    from clincode.api import build_loss as build_loss
    from clincode.api import fit_forecaster as fit_forecaster
    from clincode.api import load_histories as load_histories
    from clincode.api import load_run as load_run


def __getattr__(name: str) -> Any:
    if name in _API:
        from clincode import api

        return getattr(api, name)
    raise AttributeError(f"module 'clincode' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
