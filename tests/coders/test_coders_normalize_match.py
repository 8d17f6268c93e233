"""Normalisation (lower case, stems, accents) and the Aho-Corasick / bag-of-words key matchers."""

import pytest

from clincode.coders import MentionCoder, TextNormalizer, strip_accents
from clincode.coders.matcher import BagMatcher, KeyMatcher
from clincode.coders.negation import NegationDetector


def test_strip_accents():
    assert strip_accents("Riñón pulmón CÁNCER") == "Rinon pulmon CANCER"


def test_spanish_normalisation_stems_and_strips_accents():
    norm = TextNormalizer("es")
    assert norm.key("Fiebre ALTA, dolor torácico.") == "fiebr alta dolor torac"
    assert norm.key("Lesión") == norm.key("lesiones") == "lesion"
    tokens = norm.tokens("Fiebre alta. Sin dolor\ntorácico")
    assert tokens.tokens == ["fiebr", "alta", "sin", "dolor", "torac"]
    assert list(tokens.sentence) == [0, 0, 1, 1, 2]
    assert (tokens.starts[1], tokens.ends[1]) == (7, 11)


def test_english_normalisation():
    assert TextNormalizer("en").key("Denies fevers; Kidney stones") == "deni fever kidney stone"


def test_prefix_truncation():
    norm = TextNormalizer("es", prefix_len=6)
    assert norm.key("pulmonar pulmonares") == "pulmon pulmon"


@pytest.mark.parametrize("language", ["fr", "", "spanish", None])
def test_unknown_language_is_one_clear_error(language):
    with pytest.raises(ValueError, match="expected one of 'es', 'en'"):
        TextNormalizer(language)
    with pytest.raises(ValueError, match="expected one of 'es', 'en'"):
        MentionCoder(language)


def test_matcher_finds_overlapping_and_multiword_keys_on_word_boundaries():
    norm = TextNormalizer("es")
    keys = ["fiebr", "fiebr alta", "alta", "dolor torac", "tor"]
    matcher = KeyMatcher(keys)
    found = {(keys[m.key_id], m.first, m.last) for m in matcher.find(norm.tokens("Fiebre alta y dolor torácico; fiebre."))}
    # "tor" is inside "torac" but is not a whole token: no hit
    assert found == {("fiebr", 0, 0), ("fiebr alta", 0, 1), ("alta", 1, 1), ("dolor torac", 3, 4), ("fiebr", 5, 5)}


def test_matcher_rejects_bad_keys_and_handles_empty_inputs():
    with pytest.raises(ValueError, match="non-empty"):
        KeyMatcher(["fiebr  alta"])
    with pytest.raises(ValueError, match="non-empty"):
        KeyMatcher([""])
    norm = TextNormalizer("es")
    assert KeyMatcher([]).find(norm.tokens("fiebre")) == []
    assert KeyMatcher(["fiebr"]).find(norm.tokens("...")) == []


def test_bag_matcher_any_order_within_window_and_sentence():
    norm = TextNormalizer("es")
    bag = BagMatcher([("frontal", "mas"), ("adenopat", "inguinal")], window=2)
    hits = bag.find(norm.tokens("Masa frontal. Adenopatías dolorosas bilaterales inguinales."))
    assert sorted((m.key_id, m.first, m.last) for m in hits) == [(0, 0, 1), (1, 2, 5)]
    # too far apart, or in another sentence: no match
    assert bag.find(norm.tokens("Adenopatías muy muy muy muy dolorosas inguinales.")) == []
    assert bag.find(norm.tokens("Masa. Frontal.")) == []


def test_negation_cue_in_window_before_match():
    norm = TextNormalizer("es")
    detector = NegationDetector(norm, window=3)
    tokens = norm.tokens("Paciente sin fiebre alta. Presenta fiebre. Descarta tuberculosis")
    cues = detector.cue_positions(tokens)
    matches = KeyMatcher(["fiebr", "tuberculosis"]).find(tokens)
    assert [detector.negated(m, tokens, cues) for m in matches] == [True, False, True]
    assert NegationDetector(TextNormalizer("en"), window=2).cues >= {("no",), ("rule", "out"), ("deni",)}
