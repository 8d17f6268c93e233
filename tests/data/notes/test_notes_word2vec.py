"""train_word2vec: shape, PAD row, determinism, OOV handling, and that it learns co-occurrence."""

import numpy as np
import pytest

from clincode.data.notes.text import PAD_ID, UNK, UNK_ID, TextVocab
from clincode.data.notes.word2vec import GENSIM_MAX_SENTENCE, _Sentences, train_word2vec


def _topic_corpus(n_docs: int = 120, seed: int = 0) -> list[list[str]]:
    """Two disjoint topics: words of one topic only ever co-occur with each other."""
    rng = np.random.default_rng(seed)
    topics = [["heart", "cardiac", "atrial", "valve", "aortic"], ["kidney", "renal", "dialysis", "urine", "nephro"]]
    docs = []
    for i in range(n_docs):
        words = topics[i % 2]
        docs.append([words[j] for j in rng.integers(0, len(words), size=40)])
    return docs


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_shape_dtype_pad_zero_and_rows_follow_vocab_order():
    docs = _topic_corpus()
    vocab = TextVocab(min_df=1).fit(docs)
    emb = train_word2vec(docs, vocab, dim=16, epochs=2)
    assert emb.shape == (len(vocab), 16)
    assert emb.dtype == np.float32
    assert np.all(emb[PAD_ID] == 0.0)
    assert np.all(np.linalg.norm(emb[1:], axis=1) > 0)
    # Row order = vocab order: two different words get different rows.
    assert not np.allclose(emb[vocab.id("heart")], emb[vocab.id("kidney")])


def test_deterministic_for_a_seed_and_seed_matters():
    docs = _topic_corpus()
    vocab = TextVocab(min_df=1).fit(docs)
    a = train_word2vec(docs, vocab, dim=12, epochs=3, seed=5)
    b = train_word2vec(docs, vocab, dim=12, epochs=3, seed=5)
    c = train_word2vec(docs, vocab, dim=12, epochs=3, seed=6)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_generator_input_gives_the_same_matrix():
    docs = _topic_corpus(n_docs=20)
    vocab = TextVocab(min_df=1).fit(docs)
    assert np.array_equal(train_word2vec(iter(docs), vocab, dim=8), train_word2vec(docs, vocab, dim=8))


def test_same_topic_words_closer_than_cross_topic():
    docs = _topic_corpus(n_docs=200)
    vocab = TextVocab(min_df=1).fit(docs)
    emb = train_word2vec(docs, vocab, dim=20, epochs=30, window=3, seed=1)
    heart, kidney = ["heart", "cardiac", "atrial", "valve", "aortic"], ["kidney", "renal", "dialysis", "urine", "nephro"]
    within = [_cos(emb[vocab.id(a)], emb[vocab.id(b)]) for g in (heart, kidney) for a in g for b in g if a < b]
    across = [_cos(emb[vocab.id(a)], emb[vocab.id(b)]) for a in heart for b in kidney]
    assert np.mean(within) > np.mean(across) + 0.2
    # each word's nearest other word is in its own topic
    for group in (heart, kidney):
        for w in group:
            best = max((x for x in heart + kidney if x != w), key=lambda x: _cos(emb[vocab.id(w)], emb[vocab.id(x)]))
            assert best in group


def test_oov_words_map_to_unk_and_unseen_vocab_words_get_nonzero_rows():
    docs = [["alpha", "beta", "rare1"], ["alpha", "beta", "rare2"], ["alpha", "beta"]]
    vocab = TextVocab(min_df=2).fit(docs)
    assert vocab.tokens_ == ["<pad>", UNK, "alpha", "beta"]
    sentences = list(_Sentences(docs, vocab))
    assert sentences[0] == ["alpha", "beta", UNK]
    # vocabulary from a larger corpus: 'gamma' never appears in the training documents given here
    big = TextVocab(min_df=1).fit([["alpha", "beta", "gamma"]])
    emb = train_word2vec([["alpha", "beta"]] * 5, big, dim=8, epochs=1)
    row = emb[big.id("gamma")]
    assert np.all(np.abs(row) <= 0.5 / 8) and np.linalg.norm(row) > 0
    assert np.linalg.norm(emb[UNK_ID]) > 0


def test_long_documents_are_chunked_not_truncated():
    doc = ["w"] * (GENSIM_MAX_SENTENCE + 7)
    vocab = TextVocab(min_df=1).fit([doc])
    chunks = list(_Sentences([doc], vocab))
    assert [len(c) for c in chunks] == [GENSIM_MAX_SENTENCE, 7]


@pytest.mark.parametrize(
    "kwargs, match",
    [({"dim": 0}, "dim"), ({"epochs": -1}, "epochs"), ({"window": 0}, "window"), ({"workers": 0}, "workers")],
)
def test_bad_arguments(kwargs, match):
    vocab = TextVocab(min_df=1).fit([["a", "b"]])
    with pytest.raises(ValueError, match=match):
        train_word2vec([["a", "b"]], vocab, **kwargs)


def test_bad_documents_and_unfitted_vocab():
    vocab = TextVocab(min_df=1).fit([["a", "b"]])
    with pytest.raises(ValueError, match="token lists"):
        train_word2vec(["a b"], vocab)
    with pytest.raises(ValueError, match="no token"):
        train_word2vec([[], []], vocab)
    with pytest.raises(ValueError, match="not fitted"):
        train_word2vec([["a"]], TextVocab())
