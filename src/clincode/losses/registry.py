"""The loss registry, its builder and its description for ``clincode list losses``."""

from __future__ import annotations

from typing import Any

from clincode.registry import Registry

from .base import LossModule

LOSSES: Registry[type[LossModule]] = Registry("loss", supplied=("num_labels",))


def build_loss(name: str, num_labels: int, **params: Any) -> LossModule:
    """Build the registered loss ``name`` for ``num_labels`` labels with the given parameters.

    Unknown loss names raise a KeyError listing the known names; unknown parameter names raise a
    :class:`clincode.registry.ParamsError` (a TypeError and a ValueError) listing the accepted
    ones. Every loss builds from ``build_loss(name, num_labels)``.
    """
    cls = LOSSES.check_params(name, params)
    return cls(num_labels=num_labels, **params)


def describe_losses() -> list[dict[str, Any]]:
    """One dict per registered loss: name, summary (first docstring line), params {name: default}."""
    return LOSSES.describe()
