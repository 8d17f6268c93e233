"""The loss registry, its builder and its description for ``clincode list losses``."""

from __future__ import annotations

import inspect
from typing import Any

from clincode.registry import Registry

from .base import LossModule

LOSSES: Registry[type[LossModule]] = Registry("loss")


def _accepted_params(cls: type[LossModule]) -> dict[str, inspect.Parameter]:
    params = dict(inspect.signature(cls.__init__).parameters)
    params.pop("self", None)
    params.pop("num_labels", None)
    return params


def build_loss(name: str, num_labels: int, **params: Any) -> LossModule:
    """Build the registered loss ``name`` for ``num_labels`` labels with the given parameters.

    Unknown loss names raise a KeyError listing the known names; unknown parameter names raise a
    TypeError listing the accepted ones. Every loss builds from ``build_loss(name, num_labels)``.
    """
    cls = check_loss_params(name, params)
    return cls(num_labels=num_labels, **params)


def check_loss_params(name: str, params: dict[str, Any]) -> type[LossModule]:
    """The loss class of ``name``; a TypeError naming unknown parameters and the accepted ones."""
    cls = LOSSES.get(name)
    accepted = _accepted_params(cls)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        listed = ", ".join(accepted) or "(none)"
        raise TypeError(f"loss {name!r} got unknown parameter(s) {', '.join(unknown)}; accepted: {listed}")
    return cls


def describe_losses() -> list[dict[str, Any]]:
    """One dict per registered loss: name, summary (first docstring line), params {name: default}."""
    out = []
    for name, cls in LOSSES.items():
        doc = inspect.getdoc(cls) or ""
        summary = doc.strip().splitlines()[0] if doc.strip() else ""
        params = {
            p: (None if spec.default is inspect.Parameter.empty else spec.default)
            for p, spec in _accepted_params(cls).items()
        }
        out.append({"name": name, "summary": summary, "params": params})
    return out
