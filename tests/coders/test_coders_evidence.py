"""Evidence spans of the dictionary coders: offsets into the original text, every occurrence, ranking."""

import json

import numpy as np
import pytest

from clincode.coders import CodeEvidence, EvidenceCoder, Mention, MentionCoder, Span
from clincode.coders.evidence import ranked_evidence
from clincode.coders.ranker import CandidateRanker

TEXTS = [
    "Paciente con fiebre alta y tos.",
    "Fiebre alta sin tos. Dolor torácico.",
    "Dolor torácico opresivo.",
    "Tos seca. Fiebre.",
]
GOLD = [["R50.9", "R05"], ["R50.9"], ["R07.9"], ["R05", "J20.9"]]
MENTIONS = [
    [Mention("R50.9", "fiebre alta"), Mention("R05", "tos")],
    [Mention("R50.9", "Fiebre alta")],
    [Mention("R07.9", "Dolor torácico")],
    [Mention("R05", "Tos seca")],
]
LABELS = ["R50.9", "R05", "R07.9", "J20.9", "Z00.0"]


def spans_of(coder, text):
    return {coder.label_codes[c]: [(s.start, s.end, s.text) for s in spans] for c, spans in coder.code_spans(text).items()}


def test_spans_are_character_offsets_of_every_key_occurrence():
    coder = MentionCoder("es", keys="exact").fit(TEXTS, GOLD, MENTIONS, LABELS)
    text = "Dolor torácico. Refiere FIEBRE   alta; luego fiebre alta otra vez, y tos."
    got = spans_of(coder, text)
    # both occurrences of "fiebre alta" (case and inner spaces kept as written), nothing else for R50.9
    assert got["R50.9"] == [(24, 37, "FIEBRE   alta"), (45, 56, "fiebre alta")]
    assert text[24:37] == "FIEBRE   alta" and text[45:56] == "fiebre alta"
    assert got["R07.9"] == [(0, 14, "Dolor torácico")]
    assert got["R05"] == [(69, 72, "tos")]
    assert "J20.9" not in got and "Z00.0" not in got  # no key of their own matched


def test_spans_index_the_original_text_where_lower_casing_changes_lengths():
    coder = MentionCoder("es", keys="exact").fit(TEXTS, GOLD, MENTIONS, LABELS)
    text = "İİ dolor torácico"  # "İ".lower() is two characters
    assert len(text.lower()) == len(text) + 2
    spans = coder.code_spans(text)[coder.label_codes.index("R07.9")]
    assert [(s.start, s.end, s.text) for s in spans] == [(3, 17, "dolor torácico")]


def test_spans_are_ordered_by_key_weight_then_position():
    coder = MentionCoder("es", keys="exact", beta=0.25).fit(TEXTS, GOLD, MENTIONS, LABELS)
    text = "Tos. Tos seca."
    spans = coder.code_spans(text)[coder.label_codes.index("R05")]
    weights = [s.weight for s in spans]
    assert weights == sorted(weights, reverse=True)
    probs = {coder.keys[k]: float(coder.key_probs[k][0]) for k in range(len(coder.keys))}
    # "tos seca" (1 of 1 documents: 1 / 1.25) outweighs "tos" (2 of 3: 2 / 3.25): the later span comes first
    assert probs["tos sec"] > probs["tos"]
    assert [(s.start, s.end) for s in spans] == [(5, 13), (0, 3), (5, 8)]


def test_bag_keys_give_the_span_from_first_to_last_key_token():
    coder = MentionCoder("es", keys="bag", bag_window=3).fit(TEXTS, GOLD, MENTIONS, LABELS)
    text = "Torácico, con dolor intenso."
    got = spans_of(coder, text)
    assert got["R07.9"] == [(0, 19, "Torácico, con dolor")]


def test_predict_evidence_ranks_codes_with_their_spans():
    coder = MentionCoder("es", keys="exact", prior_weight=0.05).fit(TEXTS, GOLD, MENTIONS, LABELS)
    assert isinstance(coder, EvidenceCoder)
    out = coder.predict_evidence(["Fiebre alta.", "Nada."], top_k=3)
    assert len(out) == 2 and all(len(doc) == 3 for doc in out)
    first = out[0][0]
    assert isinstance(first, CodeEvidence) and first.code == "R50.9"
    assert [(s.start, s.end, s.text) for s in first.spans] == [(0, 11, "Fiebre alta")]
    probs = coder.predict_proba(["Fiebre alta.", "Nada."])
    assert first.score == pytest.approx(probs[0].max())
    assert [e.score for e in out[1]] == sorted((e.score for e in out[1]), reverse=True)
    assert all(e.spans == () for e in out[1])  # prior-ranked codes: no evidence
    assert len(coder.predict_evidence(["Fiebre alta."], top_k=None)[0]) == len(LABELS)
    # one matching pass gives the same scores and spans as the two separate calls
    texts = ["Fiebre alta y tos.", "Dolor torácico. Tos seca y fiebre alta."]
    both, spans = coder.predict_with_evidence(texts)
    np.testing.assert_array_equal(both, coder.predict_proba(texts))
    assert spans == coder.evidence_spans(texts)


def test_ranked_evidence_checks_shapes_and_top_k():
    spans = [{0: [Span(0, 3, "tos")]}]
    with pytest.raises(ValueError, match="expected \\(1, 2\\)"):
        ranked_evidence(np.zeros((1, 3)), spans, ["a", "b"])
    with pytest.raises(ValueError, match="top_k"):
        ranked_evidence(np.zeros((1, 2)), spans, ["a", "b"], top_k=0)
    out = ranked_evidence(np.array([[0.1, 0.1]]), spans, ["a", "b"], top_k=1)
    assert out[0][0].code == "a" and out[0][0].spans[0].text == "tos"  # ties keep column order


def test_ranker_evidence_comes_from_its_dictionary_and_survives_the_state_round_trip():
    texts = [f"Paciente con fiebre alta. Caso {w}." + (" Tos seca." if i % 2 else "") for i, w in enumerate("abcdefghijkl")]
    gold = [["R50.9"] + (["R05"] if i % 2 else []) for i in range(len(texts))]
    mentions = [[Mention("R50.9", "fiebre alta")] + ([Mention("R05", "tos seca")] if i % 2 else []) for i in range(len(texts))]
    ranker = CandidateRanker(folds=3, num_rounds=10, neighbours=3, gbm_params={"min_data_in_leaf": 2}).fit(
        texts, gold, mentions, ["R50.9", "R05"]
    )
    assert isinstance(ranker, EvidenceCoder)
    new = ["Tos seca y fiebre alta."]
    out = ranker.predict_evidence(new, top_k=2)[0]
    spans = {e.code: [(s.start, s.end) for s in e.spans] for e in out}
    assert spans == {"R05": [(0, 8)], "R50.9": [(11, 22)]}
    again = CandidateRanker.from_dict(json.loads(json.dumps(ranker.to_dict())))
    assert again.predict_evidence(new, top_k=2) == ranker.predict_evidence(new, top_k=2)
