"""Model registry and the one builder that turns a config into a model."""

from __future__ import annotations

from typing import Any

from torch import nn

from clincode.registry import Registry

# Arguments the builder supplies from the data; a config may not set them.
DATA_ARGS = ("vocab_size", "num_labels")

MODELS: Registry[type[nn.Module]] = Registry("model", supplied=DATA_ARGS)


def build_model(name: str, *, vocab_size: int, num_labels: int, params: dict[str, Any] | None = None) -> nn.Module:
    """Build a registered model; unknown parameter names raise a ParamsError with the accepted ones listed."""
    params = dict(params or {})
    cls = MODELS.check_params(name, params)
    return cls(vocab_size=vocab_size, num_labels=num_labels, **params)


def describe_models() -> list[dict[str, Any]]:
    """Name, one-line summary and parameters (with defaults) of every registered model."""
    return MODELS.describe()
