"""MentionCoder: smoothed p(code | key) against a slow reference, noisy-OR, full ranking, state, bad input."""

import json
import math

import numpy as np
import pytest

from clincode.coders import Mention, MentionCoder

TEXTS = [
    "Paciente con fiebre alta y tos.",
    "Fiebre alta sin tos. Dolor torácico.",
    "Dolor torácico opresivo.",
    "Tos seca. Fiebre.",
]
GOLD = [["R50.9", "R05"], ["R50.9"], ["R07.9"], ["R05", "J20.9"]]
MENTIONS = [
    [Mention("R50.9", "fiebre alta"), Mention("R05", "tos")],
    [{"code": "R50.9", "text": "Fiebre alta"}],
    [("R07.9", "Dolor torácico")],
    [Mention("R05", "Tos seca")],
]
LABELS = ["R50.9", "R05", "R07.9", "J20.9", "Z00.0"]


def reference_probs(coder, alpha, beta):
    """Slow reference: for each (key, code) annotated pair, count documents by brute-force search."""
    norm = coder.normalizer
    joined = [f" {norm.key(t)} " for t in TEXTS]
    pairs = {}
    for d, mentions in enumerate(MENTIONS):
        for m in mentions:
            code, text = (m.code, m.text) if isinstance(m, Mention) else (m["code"], m["text"]) if isinstance(m, dict) else m
            pairs.setdefault(norm.key(text), set()).add((code, d))
    out = {}
    for key, annotated in pairs.items():
        docs = {d for d, j in enumerate(joined) if f" {key} " in j} | {d for _, d in annotated}
        for code in {c for c, _ in annotated}:
            hits = sum(code in GOLD[d] for d in docs)
            out[(key, code)] = (hits + alpha) / (len(docs) + alpha + beta)
    return out


@pytest.mark.parametrize(("alpha", "beta"), [(0.0, 1.0), (0.5, 2.0)])
def test_smoothed_probabilities_match_a_slow_reference(alpha, beta):
    coder = MentionCoder("es", alpha=alpha, beta=beta).fit(TEXTS, GOLD, MENTIONS, LABELS)
    got = {
        (coder.keys[k], coder.label_codes[c]): p
        for k in range(len(coder.keys))
        for c, p in zip(coder.key_codes[k], coder.key_probs[k], strict=True)
    }
    ref = reference_probs(coder, alpha, beta)
    assert got.keys() == ref.keys()
    for pair, p in ref.items():
        assert got[pair] == pytest.approx(p), pair
    # "tos" occurs in documents 0, 1 ("sin tos") and 3; R05 is gold in 0 and 3
    assert got[("tos", "R05")] == pytest.approx((2 + alpha) / (3 + alpha + beta))


def test_noisy_or_and_max_scoring():
    coder = MentionCoder("es", prior_weight=0.0).fit(TEXTS, GOLD, MENTIONS, LABELS)
    scores = coder.predict_scores(["Tos seca y tos persistente."])
    p_tos = (2 + 0) / (3 + 1)  # key "tos"
    p_tos_seca = 1 / 2  # key "tos sec": only document 3
    assert scores[0, LABELS.index("R05")] == pytest.approx(1 - (1 - p_tos) * (1 - p_tos_seca))
    coder.set_params(combine="max")
    assert coder.predict_scores(["Tos seca."])[0, 1] == pytest.approx(max(p_tos, p_tos_seca))


def test_negation_lowers_the_score():
    coder = MentionCoder("es", prior_weight=0.0, negation_window=3, negation_factor=0.25).fit(TEXTS, GOLD, MENTIONS, LABELS)
    plain, negated = coder.predict_scores(["Presenta tos.", "Niega tos."])[:, 1]
    assert negated == pytest.approx(0.25 * plain) and plain > 0


def test_full_ranking_with_the_prior_behind_matches():
    coder = MentionCoder("es").fit(TEXTS, GOLD, MENTIONS, LABELS)
    scores = coder.predict_scores(["Dolor torácico.", "Nada relevante."])
    assert scores.shape == (2, len(LABELS)) and scores.dtype == np.float64
    order = [LABELS[i] for i in np.argsort(-scores[0], kind="stable")]
    assert order[0] == "R07.9"
    # without a match, the training prior orders every code (R50.9 and R05 in 2 of 4 documents)
    assert [LABELS[i] for i in np.argsort(-scores[1], kind="stable")] == ["R50.9", "R05", "R07.9", "J20.9", "Z00.0"]
    np.testing.assert_allclose(coder.prior, [0.5, 0.5, 0.25, 0.25, 0.0])


def test_bag_keys_match_reordered_phrasing():
    exact = MentionCoder("es", prior_weight=0.0).fit(TEXTS, GOLD, MENTIONS, LABELS)
    bag = MentionCoder("es", prior_weight=0.0, keys="bag").fit(TEXTS, GOLD, MENTIONS, LABELS)
    text = ["Torácico, dolor."]
    assert exact.predict_scores(text)[0, 2] == 0.0 and bag.predict_scores(text)[0, 2] > 0.0


def test_to_dict_round_trip_through_json():
    coder = MentionCoder("es", keys="both", negation_window=4, negation_factor=0.5).fit(TEXTS, GOLD, MENTIONS, LABELS)
    state = json.loads(json.dumps(coder.to_dict()))
    again = MentionCoder.from_dict(state)
    new = ["Fiebre alta, no tos.", "Dolor torácico y tos seca."]
    np.testing.assert_array_equal(again.predict_scores(new), coder.predict_scores(new))
    assert again.to_dict() == coder.to_dict()
    with pytest.raises(ValueError, match="not a MentionCoder state"):
        MentionCoder.from_dict({"kind": "other"})


def test_terminology_only_mode_uses_descriptions():
    coder = MentionCoder("en", prior_weight=0.0).fit(
        ["Fever and cough.", "Chest pain."], [["R50.9"], ["R07.9"]], None, ["R50.9", "R07.9"],
        descriptions={"R50.9": ["Fever, unspecified", "fever"], "R07.9": ["Chest pain, unspecified", "chest pain"]},
    )
    assert coder.key_description.all()
    scores = coder.predict_scores(["The patient has chest pain."])
    assert scores[0, 1] > scores[0, 0] == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="dictionary is empty"):
        MentionCoder("es").fit(TEXTS, GOLD, [[] for _ in TEXTS], LABELS)
    with pytest.raises(ValueError, match="dictionary is empty"):
        MentionCoder("es").fit(TEXTS, GOLD, [[Mention("X99", "tos")]] + [[]] * 3, LABELS)
    with pytest.raises(ValueError, match="document 1 has no text"):
        MentionCoder("es").fit([TEXTS[0], "  "], GOLD[:2], MENTIONS[:2], LABELS)
    with pytest.raises(ValueError, match="one entry per document"):
        MentionCoder("es").fit(TEXTS, GOLD[:2], MENTIONS, LABELS)
    with pytest.raises(ValueError, match="label_codes is empty"):
        MentionCoder("es").fit(TEXTS, GOLD, MENTIONS, [])
    coder = MentionCoder("es").fit(TEXTS, GOLD, MENTIONS, LABELS)
    with pytest.raises(ValueError, match="input document 0 has no text"):
        coder.predict_scores([""])
    with pytest.raises(RuntimeError, match="not fitted"):
        MentionCoder("es").predict_scores(["tos"])
    with pytest.raises(ValueError, match="alpha"):
        MentionCoder("es", beta=0)
    with pytest.raises(ValueError, match="keys is"):
        MentionCoder("es", keys="fuzzy")
    assert math.isfinite(coder.predict_scores(["tos"]).sum())
