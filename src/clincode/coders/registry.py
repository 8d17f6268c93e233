"""Coders fitted in one pass over the training documents (no gradient steps), registered by name.

A coder is chosen like a neural model, with ``model.name`` and ``model.params`` in a coding run's
config, and goes through the same ``clincode train / evaluate / predict / benchmark``. What it
reads: each document's text, its gold codes and, where the source has them, its evidence mentions
(CodiEsp's X files); what it gives back: a score in [0, 1] for every label of the run's label space.

``model.params`` are the coder's own keyword arguments plus ``keys_from``: ``"evidence"`` (keys
from the annotated evidence spans; the source must have them), ``"terminology"`` (ICD-10-CM
descriptions and inclusion terms as keys, for sources without evidence spans) or ``"both"``.
The language (stemmer, negation cues) is the run's ``data.params.language``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from clincode.coders.evidence import CodeEvidence, Span
from clincode.coders.mention_coder import MentionCoder
from clincode.coders.ranker import CandidateRanker
from clincode.registry import Registry

KEYS_FROM = ("evidence", "terminology", "both")


@runtime_checkable
class DocumentCoder(Protocol):
    """What the training path needs of a coder."""

    def fit(
        self,
        texts: Sequence[str],
        gold: Sequence[Sequence[str]],
        mentions: Sequence[Sequence[Any]] | None,
        label_codes: Sequence[str],
        *,
        descriptions: Mapping[str, Sequence[str]] | None = None,
    ) -> Any: ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...

    def to_dict(self) -> dict[str, Any]: ...


@runtime_checkable
class EvidenceCoder(Protocol):
    """A coder that can say which text spans support each code it ranks (:mod:`clincode.coders.evidence`)."""

    def evidence_spans(self, texts: Sequence[str]) -> list[dict[int, list[Span]]]: ...

    def predict_with_evidence(self, texts: Sequence[str]) -> tuple[np.ndarray, list[dict[int, list[Span]]]]: ...

    def predict_evidence(self, texts: Sequence[str], top_k: int | None = 10) -> list[list[CodeEvidence]]: ...


CODERS: Registry[type[Any]] = Registry("coder", supplied=("language",))
CODERS.register("mention_dictionary")(MentionCoder)
CODERS.register("mention_ranker")(CandidateRanker)

# Defaults chosen on CodiEsp-D's dev split (docs/results.md, dictionary coders): exact and
# bag-of-words keys in a 6-token window, smoothing alpha 0 / beta 1, noisy-OR, prior weight 0.05.
DICTIONARY_DEFAULTS: dict[str, Any] = {"keys": "both", "bag_window": 6, "alpha": 0.0, "beta": 1.0, "prior_weight": 0.05}


def coder_params(name: str, params: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """(keyword arguments of the coder class, keys_from), defaults filled in; unknown names raise."""
    cls = CODERS.get(name)
    params = dict(params)
    keys_from = str(params.pop("keys_from", "evidence"))
    if keys_from not in KEYS_FROM:
        raise ValueError(f"model.params.keys_from is {keys_from!r}; expected one of {', '.join(KEYS_FROM)}")
    CODERS.check_params(name, params, also=("keys_from",))
    if cls is MentionCoder:
        params = {**DICTIONARY_DEFAULTS, **params}
    elif cls is CandidateRanker:
        params["coder_params"] = {**DICTIONARY_DEFAULTS, **dict(params.get("coder_params") or {})}
    return params, keys_from


def build_coder(name: str, params: Mapping[str, Any], language: str) -> DocumentCoder:
    """An unfitted coder of ``name`` for texts in ``language``."""
    kwargs, _ = coder_params(name, params)
    cls = CODERS.get(name)
    if cls is CandidateRanker:
        kwargs["coder_params"] = {**kwargs["coder_params"], "language": language}
        return cls(**kwargs)
    return cls(language, **kwargs)


def fitted_label_codes(coder: Any) -> list[str]:
    """The columns of a fitted coder's ``predict_proba``: the ``label_codes`` given to ``fit``, then,
    with ``extend_labels``, the ICD-10-CM neighbours it added (codes no training document has).

    A run whose coder adds codes must widen its label space to these (same order, count 0 for the
    added codes) before it saves, evaluates or predicts; otherwise the columns do not line up.
    """
    inner = coder.coder if isinstance(coder, CandidateRanker) else coder
    if inner is None or not hasattr(inner, "label_codes"):
        raise RuntimeError(f"{type(coder).__name__} is not fitted")
    return list(inner.label_codes)


def coder_from_state(name: str, state: Mapping[str, Any]) -> DocumentCoder:
    """A fitted coder from its saved state (``to_dict``)."""
    return CODERS.get(name).from_dict(state)


def describe_coders() -> list[dict[str, Any]]:
    """Name, one-line summary and parameters (with defaults) of every registered coder."""
    out = CODERS.describe()
    for entry in out:
        defaults = dict(entry["params"])
        if CODERS.get(entry["name"]) is MentionCoder:
            defaults.update(DICTIONARY_DEFAULTS)
        entry["params"] = {"keys_from": "evidence", **defaults}
    return out
