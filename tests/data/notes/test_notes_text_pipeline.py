"""MARN text pipeline: tokenize against hand examples, TextVocab against an explicit min_df loop."""

import json

import numpy as np
import pytest

from clincode.data.notes import PAD_ID, UNK_ID, TextVocab, encode, tokenize


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Pt is a 45-yo M w/ 2nd MI.", ["pt", "is", "a", "yo", "m", "w", "2nd", "mi"]),
        ("BP 120/80, HR 72; given 3.5 mg", ["bp", "hr", "given", "mg"]),
        ("Varón de 37 años con orquitis", ["varón", "de", "años", "con", "orquitis"]),
        ("snake_case stays_one x2 ２", ["snake_case", "stays_one", "x2"]),  # full-width 2 is numeric
        ("   \n\t ", []),
    ],
)
def test_tokenize_hand_examples(text, tokens):
    assert tokenize(text) == tokens


DOCS = [
    ["fever", "cough", "fever"],
    ["fever", "rash"],
    ["cough", "fever", "rash"],
    ["cough", "pain"],
    ["rash"],
]


def test_vocab_min_df_matches_explicit_count():
    for min_df in (1, 2, 3, 4):
        vocab = TextVocab(min_df=min_df).fit(DOCS)
        expected = sorted(w for w in {t for d in DOCS for t in d} if sum(w in d for d in DOCS) >= min_df)
        assert vocab.tokens_[2:] == expected
        assert vocab.tokens_[PAD_ID] == "<pad>" and vocab.tokens_[UNK_ID] == "<unk>"
    vocab = TextVocab().fit(DOCS)  # MARN default min_df = 3
    # fever: docs 0,1,2 (repeats in doc 0 count once); cough: 0,2,3; rash: 1,2,4; pain: 1 doc
    assert vocab.tokens_ == ["<pad>", "<unk>", "cough", "fever", "rash"]
    assert vocab.doc_freq_ == {"cough": 3, "fever": 3, "rash": 3}


def test_encode_truncates_and_maps_unknown_to_unk():
    vocab = TextVocab().fit(DOCS)
    ids = encode(["rash", "pain", "fever", "cough", "zzz"], vocab, max_len=4)
    assert ids.dtype == np.int64 and ids.tolist() == [4, UNK_ID, 3, 2]
    assert encode(["fever"] * 5000, vocab).shape == (4000,)  # MARN keeps the first 4,000 tokens
    assert encode([], vocab).shape == (0,)
    with pytest.raises(ValueError, match="max_len"):
        encode(["fever"], vocab, max_len=0)


def test_vocab_round_trip_and_errors():
    vocab = TextVocab(min_df=2).fit(DOCS)
    state = json.loads(json.dumps(vocab.to_dict()))
    again = TextVocab.from_dict(state)
    assert again.tokens_ == vocab.tokens_ and again.doc_freq_ == vocab.doc_freq_ and again.min_df == 2
    assert len(again) == len(vocab) == 5
    with pytest.raises(ValueError, match="lacks field 'doc_freq'"):
        TextVocab.from_dict({"min_df": 3, "tokens": []})
    with pytest.raises(ValueError, match="reserved"):
        TextVocab.from_dict({"min_df": 3, "tokens": ["<pad>"], "doc_freq": [3]})
    with pytest.raises(ValueError, match="not fitted"):
        TextVocab().id("fever")
    with pytest.raises(ValueError, match="min_df"):
        TextVocab(min_df=0)
    with pytest.raises(ValueError, match="token lists"):
        TextVocab().fit(["a raw string"])
