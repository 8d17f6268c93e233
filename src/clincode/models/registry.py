"""Model registry and the one builder that turns a config into a model."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from clincode.registry import Registry

MODELS: Registry[type[nn.Module]] = Registry("model")

# Arguments the builder supplies from the data; a config may not set them.
DATA_ARGS = ("vocab_size", "num_labels")


def model_params(cls: type[nn.Module]) -> dict[str, Any]:
    """Configurable constructor parameters of a model class with their defaults."""
    sig = inspect.signature(cls.__init__)
    return {
        name: (p.default if p.default is not inspect.Parameter.empty else None)
        for name, p in sig.parameters.items()
        if name != "self" and name not in DATA_ARGS
    }


def build_model(name: str, *, vocab_size: int, num_labels: int, params: dict[str, Any] | None = None) -> nn.Module:
    """Build a registered model; unknown parameter names raise with the accepted ones listed."""
    params = dict(params or {})
    cls = check_model_params(name, params)
    return cls(vocab_size=vocab_size, num_labels=num_labels, **params)


def check_model_params(name: str, params: dict[str, Any]) -> type:
    """The model class of ``name``; a ValueError naming unknown parameters and the accepted ones."""
    cls = MODELS.get(name)
    accepted = model_params(cls)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"model {name!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"accepted: {', '.join(sorted(accepted))}"
        )
    return cls


def describe_models() -> list[dict[str, Any]]:
    out = []
    for name, cls in MODELS.items():
        doc = (cls.__doc__ or "").strip().splitlines()
        out.append({"name": name, "summary": doc[0] if doc else "", "params": model_params(cls)})
    return out
