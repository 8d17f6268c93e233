"""Contract over every registered coder (as for every model, loss and task): built from its
config, fitted, scores in [0, 1] of the label columns, state round trip, unknown params named.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from clincode.coders import CODERS, Mention, build_coder
from clincode.coders.registry import DocumentCoder, coder_from_state, coder_params, describe_coders, fitted_label_codes
from clincode.registry import ParamsError

NAMES = CODERS.names()
# model.params small enough for a seconds-long fit on the corpus below.
TINY: dict[str, dict[str, Any]] = {
    "mention_dictionary": {},
    "mention_ranker": {"folds": 3, "num_rounds": 10, "neighbours": 3, "gbm_params": {"min_data_in_leaf": 2}},
}


def corpus(n_docs: int = 12) -> tuple[list[str], list[list[str]], list[list[Mention]], list[str]]:
    texts, gold, mentions = [], [], []
    for d in range(n_docs):
        texts.append("Paciente con fiebre alta." + (" Tos seca persistente." if d % 2 else " Sin otros hallazgos."))
        gold.append(["R50.9"] + (["R05"] if d % 2 else []))
        mentions.append([Mention("R50.9", "fiebre alta")] + ([Mention("R05", "tos seca")] if d % 2 else []))
    return texts, gold, mentions, ["R05", "R50.9"]


def test_every_registered_coder_has_tiny_params() -> None:
    assert set(TINY) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_builds_from_its_config_and_satisfies_the_protocol(name: str) -> None:
    assert isinstance(build_coder(name, {}, "es"), DocumentCoder)
    params, keys_from = coder_params(name, {})
    assert keys_from == "evidence" and isinstance(params, dict)


@pytest.mark.parametrize("name", NAMES)
def test_fit_scores_the_label_columns_and_round_trips_its_state(name: str) -> None:
    texts, gold, mentions, labels = corpus()
    coder = build_coder(name, TINY[name], "es")
    coder.fit(texts, gold, mentions, labels)
    probs = np.asarray(coder.predict_proba(texts[:4]))
    assert probs.shape == (4, len(fitted_label_codes(coder))) and fitted_label_codes(coder)[: len(labels)] == labels
    assert np.isfinite(probs).all() and (probs >= 0).all() and (probs <= 1).all()
    again = coder_from_state(name, coder.to_dict())
    np.testing.assert_array_equal(np.asarray(again.predict_proba(texts[:4])), probs)


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_parameter_is_named(name: str) -> None:
    with pytest.raises(ParamsError, match=rf"coder {name!r} got unknown parameter\(s\) 'no_such_param'"):
        coder_params(name, {"no_such_param": 1})
    with pytest.raises(ValueError, match="keys_from"):
        coder_params(name, {"keys_from": "nowhere"})


def test_describe_lists_every_coder_with_keys_from() -> None:
    entries = describe_coders()
    assert [e["name"] for e in entries] == NAMES
    assert all(e["summary"] and e["params"]["keys_from"] == "evidence" for e in entries)
