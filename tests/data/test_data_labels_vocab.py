"""LabelSpace and Vocab: fitting against hand counts, ordering, transforms, persistence."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from clincode.data.label_levels import category_of, label_mapper
from clincode.data.labels import LabelSpace
from clincode.data.schema import DataError
from clincode.data.vocab import PAD_ID, UNK_ID, Vocab

VISITS = [
    ["ICD10CM//E11.9", "ICD10CM//I10", "LAB//1"],
    ["ICD10CM//E11.9", "ICD10CM//E11.9", "ICD10CM//E11.65"],  # duplicate counts once per visit
    ["ICD10CM//I10", "ICD9CM//250.00", "GENDER//F"],
    ["ICD10CM//J45.909"],
    ["ICD10CM//E11.65", "ICD10CM//I10"],
]


def hand_counts(visits, label_of):
    counts = Counter()
    for v in visits:
        counts.update({label_of(c) for c in v} - {None})
    return counts


def test_fit_code_level_matches_hand_counts():
    space = LabelSpace(num_labels=3).fit(VISITS)
    # visits containing: I10 3, E11.9 2, E11.65 2, 250.00 1, J45.909 1 -> ties by code string
    assert space.codes_ == ["ICD10CM//I10", "ICD10CM//E11.65", "ICD10CM//E11.9"]
    assert space.counts_.dtype == np.int64 and space.counts_.tolist() == [3, 2, 2]
    assert space.index_ == {"ICD10CM//I10": 0, "ICD10CM//E11.65": 1, "ICD10CM//E11.9": 2}
    assert space.n_visits_ == 5
    assert len(space) == 3
    full = LabelSpace(num_labels=None).fit(VISITS)
    assert dict(zip(full.codes_, full.counts_.tolist(), strict=True)) == hand_counts(VISITS, full.label_of)
    assert "LAB//1" not in full.index_ and "GENDER//F" not in full.index_


def test_fit_from_counts_equals_fit_from_visits_at_code_level():
    counts = Counter(c for v in VISITS for c in set(v))
    a = LabelSpace(num_labels=4).fit(counts)
    b = LabelSpace(num_labels=4).fit(VISITS)
    assert a.codes_ == b.codes_ and a.counts_.tolist() == b.counts_.tolist()


def test_transform_and_multi_hot():
    space = LabelSpace(num_labels=3).fit(VISITS)
    assert space.transform(["ICD10CM//E11.9", "ICD10CM//I10", "ICD10CM//I10", "ICD10CM//Z00.0", "LAB//1"]) == [0, 2]
    assert space.transform([]) == []
    assert space.multi_hot(["ICD10CM//E11.65"]).tolist() == [0, 1, 0]


def test_category_level():
    space = LabelSpace(num_labels=None, level="category").fit(VISITS)
    # E11 in visits 0, 1, 4 (visit 1 has two E11 codes: once); I10 3; 250 1; J45 1
    assert space.codes_ == ["ICD10CM//E11", "ICD10CM//I10", "ICD10CM//J45", "ICD9CM//250"]
    assert space.counts_.tolist() == [3, 3, 1, 1]
    assert space.transform(["ICD10CM//E11.8"]) == [0]  # unseen code, known category
    assert category_of("ICD9CM//", "E880.9") == "ICD9CM//E880"
    assert category_of("ICD9CM//", "V10.3") == "ICD9CM//V10"
    assert category_of("ICD10CM//", "e119") == "ICD10CM//e11"


def test_ccs_level_uses_clincode_codes():
    from clincode.codes import ccs_category

    space = LabelSpace(num_labels=None, level="ccs").fit(VISITS)
    expected = hand_counts(VISITS, lambda c: ccs_category(c) if c.startswith(("ICD10CM//", "ICD9CM//")) else None)
    assert dict(zip(space.codes_, space.counts_.tolist(), strict=True)) == expected
    assert space.label_of("ICD9CM//250.00") == space.label_of("ICD10CM//E11.9") == "CCS//49"
    assert label_mapper("ccs", ("LAB//",))("LAB//1") is None  # unknown vocabulary: no label, no crash


def test_num_labels_too_large_names_both_numbers():
    with pytest.raises(DataError, match=r"num_labels=6 is larger than the 5 distinct code-level labels"):
        LabelSpace(num_labels=6).fit(VISITS)
    with pytest.raises(DataError, match=r"num_labels=5 is larger than the 4 distinct category-level labels"):
        LabelSpace(num_labels=5, level="category").fit(VISITS)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="label level 'icd'"):
        LabelSpace(level="icd")
    with pytest.raises(ValueError, match="num_labels must be a positive integer"):
        LabelSpace(num_labels=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        LabelSpace().transform(["ICD10CM//I10"])


def test_label_space_json_roundtrip_and_descriptions():
    space = LabelSpace(num_labels=3).fit(VISITS)
    state = json.loads(json.dumps(space.to_dict()))
    back = LabelSpace.from_dict(state)
    assert back.codes_ == space.codes_ and back.counts_.tolist() == space.counts_.tolist()
    assert back.index_ == space.index_ and back.level == "code" and back.n_visits_ == 5
    assert back.transform(["ICD10CM//E11.9"]) == [2]
    assert space.descriptions()[0] == "Essential (primary) hypertension"
    with pytest.raises(ValueError, match="expected 'LabelSpace'"):
        LabelSpace.from_dict({"kind": "Vocab"})


def test_vocab_fit_transform_roundtrip():
    vocab = Vocab(min_count=2).fit(VISITS + [["MEDS_BIRTH", "GENDER//F", "LAB//1"], ["MEDS_BIRTH"]])
    assert vocab.tokens_[:2] == ["[PAD]", "[UNK]"] and PAD_ID == 0 and UNK_ID == 1
    # counts: I10 3, E11.9 2, E11.65 2, LAB//1 2; MEDS_BIRTH / GENDER excluded; count-1 codes dropped
    assert vocab.tokens_[2:] == ["ICD10CM//I10", "ICD10CM//E11.65", "ICD10CM//E11.9", "LAB//1"]
    assert vocab.counts_.tolist() == [0, 0, 3, 2, 2, 2]
    assert vocab.transform(["ICD10CM//I10", "ICD9CM//250.00", "LAB//1", "[PAD]"]) == [2, UNK_ID, 5, UNK_ID]
    back = Vocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert back.tokens_ == vocab.tokens_ and back.index_ == vocab.index_ and len(back) == 6
    counts = Vocab().fit({"A": 3, "B": 3, "C": 1, "GENDER//M": 9})
    assert counts.tokens_ == ["[PAD]", "[UNK]", "A", "B", "C"]
    with pytest.raises(DataError, match="min_count=5"):
        Vocab(min_count=5).fit(VISITS)
