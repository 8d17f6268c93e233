"""Codes outside the training codes: ICD-10-CM relations, extended label space, back-off, hierarchy
candidates in the ranker, fuzzy token reading.
"""

import json
import math

import numpy as np
import pytest
import simple_icd_10_cm as sicd

from clincode.coders import Mention, MentionCoder
from clincode.coders.hierarchy import PREFIX, LabelHierarchy, hierarchy_extension, related_codes
from clincode.coders.ranker import DEFAULT_GROUPS, FEATURE_GROUPS, CandidateRanker

AF = "ICD10CM//I48.91"  # unspecified atrial fibrillation
AF_SIBLING = "ICD10CM//I48.92"  # unspecified atrial flutter
FEVER = "ICD10CM//R50.9"


def slow_relations(code: str) -> dict[str, str]:
    """Reference: parent (if a code, not a block), its other children, own children; first relation wins."""
    body = code.removeprefix(PREFIX)
    if not code.startswith(PREFIX) or not sicd.is_valid_item(body) or "-" in body:
        return {}
    out: dict[str, str] = {}
    parent = sicd.get_parent(body)
    if parent and "-" not in parent and sicd.is_valid_item(parent):
        out[PREFIX + parent] = "parent"
        for s in sicd.get_children(parent):
            if s != body and PREFIX + s not in out:
                out[PREFIX + s] = "sibling"
    for c in sicd.get_children(body):
        out.setdefault(PREFIX + c, "child")
    return out


@pytest.mark.parametrize("code", [AF, "ICD10CM//I48", "ICD10CM//S72.001", "ICD10CM//R52", "ICD10CM//N18.6"])
def test_related_codes_match_a_slow_reference(code):
    assert dict(related_codes(code)) == slow_relations(code)


def test_related_codes_examples_and_other_vocabularies():
    rel = dict(related_codes(AF))
    assert rel["ICD10CM//I48.9"] == "parent" and rel[AF_SIBLING] == "sibling"
    assert "ICD10CM//I30-I5A" not in dict(related_codes("ICD10CM//I48"))  # a block is no code
    assert dict(related_codes("ICD10CM//I48"))["ICD10CM//I48.0"] == "child"
    assert related_codes("ICD10PCS//0DTJ4ZZ") == () and related_codes("ICD10CM//ZZZ.99") == ()


def test_hierarchy_extension_and_label_hierarchy():
    ext = hierarchy_extension([AF, FEVER, "ICD10CM//I48.9"])
    assert ext == sorted(ext) and AF_SIBLING in ext and AF not in ext and "ICD10CM//I48.9" not in ext
    labels = [AF, AF_SIBLING, "ICD10CM//I48.9", FEVER]
    h = LabelHierarchy(labels)
    # AF's relatives inside the label space: its parent and its sibling
    assert sorted(labels[i] for i in h.related[0]) == sorted(["ICD10CM//I48.9", AF_SIBLING])
    back = h.backoff({0: 0.8, 2: 0.3})
    best, n, rel = back[1]  # the sibling: from AF (sibling, 0.8) and from I48.9 (its parent, 0.3)
    assert (best, n, rel) == (0.8, 2, 1)
    assert 3 not in back  # fever has no relative here


def corpus(n_docs: int = 12):
    texts, gold, mentions = [], [], []
    for d in range(n_docs):
        texts.append("Paciente con fibrilación auricular y fiebre alta." if d % 2 else "Paciente con fiebre alta.")
        codes = [FEVER] + ([AF] if d % 2 else [])
        gold.append(codes)
        mentions.append([Mention(FEVER, "fiebre alta")] + ([Mention(AF, "fibrilación auricular")] if d % 2 else []))
    return texts, gold, mentions


def test_extended_label_space_puts_the_given_codes_first():
    texts, gold, mentions = corpus()
    coder = MentionCoder("es", extend_labels=True).fit(texts, gold, mentions, [FEVER, AF])
    assert coder.label_codes[:2] == [FEVER, AF]
    assert coder.label_codes[2:] == hierarchy_extension([FEVER, AF])
    assert (coder.prior[2:] == 0).all()
    scores = coder.predict_scores(["fibrilación auricular"])
    assert scores.shape == (1, len(coder.label_codes))
    again = MentionCoder.from_dict(json.loads(json.dumps(coder.to_dict())))
    assert again.label_codes == coder.label_codes and again.extend_labels


@pytest.mark.parametrize("backoff", [0.1, 0.5])
def test_backoff_scores_match_a_slow_reference(backoff):
    texts, gold, mentions = corpus()
    coder = MentionCoder("es", extend_labels=True, backoff=backoff, prior_weight=0.01).fit(texts, gold, mentions, [FEVER, AF])
    text = "Antecedente de fibrilación auricular, sin fiebre alta."
    got = coder.predict_scores([text])[0]
    # reference: own match score, or backoff x the best related matched code's score, whichever is higher
    own = {c: coder.match_score(ev) for c, ev in coder.evidence(text).items()}
    for j, code in enumerate(coder.label_codes):
        sources = [s for c, s in own.items() if code in dict(related_codes(coder.label_codes[c]))]
        expected = max([own.get(j, 0.0)] + [backoff * s for s in sources]) + 0.01 * coder.prior[j]
        assert math.isclose(got[j], expected, rel_tol=1e-12, abs_tol=1e-15), code
    sibling = coder.label_codes.index(AF_SIBLING)
    # never seen in training (no key, prior 0), yet scored from AF's match, below AF itself
    assert got[sibling] == pytest.approx(backoff * own[1]) and 0 < got[sibling] < got[1]
    coder.set_params(backoff=0.0)
    assert coder.predict_scores([text])[0][sibling] == 0.0


def levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_fuzzy_tokens_match_a_slow_reference():
    texts, gold, mentions = corpus()
    coder = MentionCoder("es", fuzzy=1, fuzzy_min_len=6).fit(texts, gold, mentions, [FEVER, AF])
    vocab = sorted({t for k in coder.keys for t in k.split()})
    for token in ["aurricul", "auricul", "auriculr", "fibrl", "fiebre", "xxxxxxxxxx", "auricula", "fibrill"]:
        near = [(levenshtein(token, v), v) for v in vocab]
        d, v = min(near)
        expected = token if token in vocab or len(token) < 6 or d > 1 else v
        assert coder.nearest_key_token(token) == expected, token
    # a misspelt mention matches fuzzily and not exactly
    typo = "Paciente con fibrilación aurricular."  # stems "fibril aurricul": one edit from "auricul"
    assert coder.predict_scores([typo])[0][1] > 0.5
    exact = MentionCoder("es").fit(texts, gold, mentions, [FEVER, AF])
    assert exact.predict_scores([typo])[0][1] < 0.5
    again = MentionCoder.from_dict(json.loads(json.dumps(coder.to_dict())))
    assert again.fuzzy == 1 and np.allclose(again.predict_scores([typo]), coder.predict_scores([typo]))


def test_ranker_hierarchy_candidates_reach_an_unseen_code():
    texts, gold, mentions = corpus(16)
    gold = [g + ([AF_SIBLING] if d == 3 else []) for d, g in enumerate(gold)]  # gold but outside the given labels
    ranker = CandidateRanker({"extend_labels": True}, folds=2, neighbours=3, num_rounds=10, hierarchy_top=5,
                             gbm_params={"min_data_in_leaf": 2})
    assert ranker.groups == DEFAULT_GROUPS + ("backoff",)
    docs, labels, feats, relevance = ranker.cross_fit_rows(texts, gold, mentions, [FEVER, AF])
    ranker.fit_rows(docs, labels, feats, relevance)
    ranker.fit_describers(texts, gold, mentions, [FEVER, AF])
    codes = ranker.coder.label_codes
    sib = codes.index(AF_SIBLING)
    # the unseen sibling is a candidate of every AF document (also of others, by neighbour votes: doc 3 has it)
    rows = labels == sib
    assert {d for d in range(16) if d % 2} <= set(docs[rows].tolist())
    assert relevance[rows & (docs == 3)].tolist() == [1] and relevance[rows & (docs != 3)].sum() == 0
    start = sum(len(FEATURE_GROUPS[g]) for g in FEATURE_GROUPS if list(FEATURE_GROUPS).index(g) < list(FEATURE_GROUPS).index("backoff"))
    names = FEATURE_GROUPS["backoff"]
    f = feats[rows & (docs == 1)][0, start:start + len(names)]
    assert f[names.index("backoff_only")] == 1 and f[names.index("backoff_sibling")] == 1 and f[names.index("seen")] == 0
    scores = ranker.predict_scores(["Paciente con fibrilación auricular."])
    assert scores.shape == (1, len(codes)) and scores[0, sib] > 0.5  # a candidate: above every non-candidate
    state = json.loads(json.dumps(ranker.to_dict()))
    again = CandidateRanker.from_dict(state)
    assert again.hierarchy_top == 5 and np.allclose(again.predict_scores(["Paciente con fibrilación auricular."]), scores)


def test_bad_unseen_settings():
    with pytest.raises(ValueError, match="backoff"):
        MentionCoder("es", backoff=1.5)
    with pytest.raises(ValueError, match="fuzzy"):
        MentionCoder("es", fuzzy=-1)


def test_fitted_label_codes_of_both_coders():
    from clincode.coders import fitted_label_codes

    texts, gold, mentions = corpus(8)
    plain = MentionCoder("es").fit(texts, gold, mentions, [FEVER, AF])
    assert fitted_label_codes(plain) == [FEVER, AF]
    wide = MentionCoder("es", extend_labels=True).fit(texts, gold, mentions, [FEVER, AF])
    assert fitted_label_codes(wide) == [FEVER, AF] + hierarchy_extension([FEVER, AF])
    ranker = CandidateRanker({"extend_labels": True}, folds=2, neighbours=0, num_rounds=5, gbm_params={"min_data_in_leaf": 2})
    with pytest.raises(RuntimeError, match="not fitted"):
        fitted_label_codes(ranker)
    ranker.fit(texts, gold, mentions, [FEVER, AF])
    assert fitted_label_codes(ranker) == fitted_label_codes(wide)


def test_spanish_who_descriptions_with_hierarchy_backoff():
    from clincode.coders.terminology import cie10_es_descriptions

    got = cie10_es_descriptions(["ICD10CM//I10", "ICD10CM//N28.89", "ICD10CM//L58.0", "ICD10PCS//BW03ZZZ", "ICD10CM//U99.99"])
    assert got["ICD10CM//I10"] == ["Hipertensión esencial (primaria)", "Hipertensión esencial"]
    assert got["ICD10CM//L58.0"] == ["Radiodermatitis aguda"]
    # N28.89 is ICD-10-CM only: WHO's N28.8 describes it
    assert got["ICD10CM//N28.89"][0].startswith("Otros trastornos especificados del riñón")
    assert "ICD10PCS//BW03ZZZ" not in got and "ICD10CM//U99.99" not in got
    assert "ICD10CM//N28.89" not in cie10_es_descriptions(["ICD10CM//N28.89"], backoff=False)


def test_spanish_description_keys_find_a_code_never_seen_in_training():
    import json

    from clincode.coders import MentionCoder

    texts = ["Paciente con fiebre alta.", "Fiebre alta persistente.", "Tos seca."]
    gold = [["ICD10CM//R50.9"], ["ICD10CM//R50.9"], ["ICD10CM//R05"]]
    mentions = [[("ICD10CM//R50.9", "fiebre alta")], [("ICD10CM//R50.9", "fiebre alta")], [("ICD10CM//R05", "tos seca")]]
    labels = ["ICD10CM//R50.9", "ICD10CM//R05", "ICD10CM//I10"]  # I10: no training document has it
    new = ["Antecedentes de hipertensión esencial."]
    plain = MentionCoder("es", alpha=0.1).fit(texts, gold, mentions, labels)
    spanish = MentionCoder("es", alpha=0.1, spanish_descriptions=True).fit(texts, gold, mentions, labels)
    i10 = labels.index("ICD10CM//I10")
    assert i10 not in plain.match_scores(new[0])
    assert spanish.match_scores(new[0])[i10] > 0  # "Hipertensión esencial" is a key now
    spans = spanish.code_spans(new[0])[i10]
    assert [(s.start, s.end, s.text) for s in spans] == [(16, 37, "hipertensión esencial")]
    again = MentionCoder.from_dict(json.loads(json.dumps(spanish.to_dict())))
    assert again.spanish_descriptions and again.match_scores(new[0]) == spanish.match_scores(new[0])
    without_alpha = MentionCoder("es", spanish_descriptions=True).fit(texts, gold, mentions, labels)
    assert without_alpha.match_scores(new[0]).get(i10, 0.0) == 0.0  # alpha 0: p(code | key) = 0 / (n_k + 1)
