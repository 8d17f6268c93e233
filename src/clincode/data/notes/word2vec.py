"""word2vec embeddings for MARN / CAML-style models, trained on the training split only.

docs/methods.md section 4.1: CBOW, 100 dimensions, trained on the training corpus (MARN and CAML both use
gensim). The returned matrix has one row per :class:`TextVocab` entry, in vocabulary id order, so
row ``i`` embeds ``vocab.tokens_[i]``; L2-normalising and freezing the rows is the model's job.

Choices the papers leave open, fixed here:

- Out-of-vocabulary words are *mapped to the UNK token* (``<unk>``) before training rather than
  dropped, so the UNK row is trained on the contexts rare words appear in and the remaining words
  keep their true neighbours (dropping them would glue distant words into one window).
- ``min_count=1``: the vocabulary was already chosen by document frequency (``TextVocab``); gensim
  must not prune it again.
- Documents longer than gensim's 10,000-word sentence limit are cut into consecutive chunks of
  10,000 tokens (gensim would otherwise silently ignore everything past the limit; MIMIC-III
  discharge summaries can exceed it).
- Rows of words that never occur in ``documents`` (possible when the vocabulary was fitted on
  other or longer documents, or for UNK when every token is known) get a small seeded uniform
  vector on gensim's own initial scale ``U(-0.5/dim, 0.5/dim)``: never zero, so L2 normalisation
  stays defined. The PAD row (id 0) is exactly zero.
- Determinism: with ``workers=1`` the result depends only on ``(documents, vocab, dim, epochs,
  window, seed)``. gensim 4 seeds its initial vectors from ``seed`` (``numpy.default_rng``), not
  from Python's salted string hash, so ``PYTHONHASHSEED`` does not matter. More workers are faster
  but thread scheduling makes the result vary from run to run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from clincode.data.notes.text import PAD, PAD_ID, UNK, TextVocab

# gensim's compiled routines ignore words past this position in one sentence (MAX_SENTENCE_LEN).
GENSIM_MAX_SENTENCE = 10_000


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} is {value!r}; expected an integer >= 1.")


class _Sentences:
    """Re-iterable view of the documents as gensim sentences (gensim iterates once per epoch + once
    for the vocabulary): OOV words replaced by UNK, long documents cut into 10,000-token chunks.
    """

    def __init__(self, documents: Sequence[Sequence[str]], vocab: TextVocab) -> None:
        self.documents = documents
        self.vocab = vocab

    def __iter__(self) -> Iterator[list[str]]:
        index = self.vocab.index_
        for tokens in self.documents:
            mapped = [tok if tok in index and tok != PAD else UNK for tok in tokens]
            for start in range(0, len(mapped), GENSIM_MAX_SENTENCE):
                yield mapped[start : start + GENSIM_MAX_SENTENCE]


def train_word2vec(
    documents: Sequence[Sequence[str]],
    vocab: TextVocab,
    dim: int = 100,
    epochs: int = 5,
    window: int = 5,
    seed: int = 0,
    workers: int = 1,
) -> np.ndarray:
    """Train CBOW word2vec on tokenised training documents; one row per vocabulary entry.

    Args:
        documents: the TRAINING split's documents as token lists (``tokenize(text)``, optionally
            truncated to the model's maximum length); never include tuning / held-out text.
        vocab: fitted :class:`TextVocab` (normally fitted on the same documents).
        dim: embedding size (MARN / CAML: 100).
        epochs, window: gensim's training epochs and context window (gensim defaults 5 and 5).
        seed: gensim seed; also seeds the vectors of words absent from ``documents``.
        workers: gensim worker threads; results are reproducible only with ``workers=1``.

    Returns:
        float32 array of shape ``[len(vocab), dim]``: row ``i`` is the vector of
        ``vocab.tokens_[i]``; row ``PAD_ID`` (0) is zeros; rows of words never seen in
        ``documents`` are small seeded random vectors (see the module docstring).

    Raises:
        ValueError: a non-positive ``dim`` / ``epochs`` / ``window`` / ``workers``, a document given
            as a plain string, an unfitted vocabulary, or no token at all in ``documents``.
    """
    for name, value in (("dim", dim), ("epochs", epochs), ("window", window), ("workers", workers)):
        _check_positive(name, value)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed is {seed!r}; expected an integer.")
    n_rows = len(vocab)  # ValueError if the vocabulary is not fitted
    if not isinstance(documents, (Sequence, str)):
        documents = list(documents)  # gensim iterates several times; a generator would run dry
    if isinstance(documents, str) or any(isinstance(doc, str) for doc in documents):
        raise ValueError("documents must be token lists (tokenize(text)), not strings.")
    if not any(len(doc) for doc in documents):
        raise ValueError("documents have no token; expected the tokenised training documents.")

    # Imported here: gensim is heavy and only this step needs it (no import-time cost for the package).
    from gensim.models import Word2Vec

    model = Word2Vec(
        sentences=_Sentences(documents, vocab),
        vector_size=dim,
        window=window,
        min_count=1,
        sg=0,  # CBOW, as in MARN / CAML
        epochs=epochs,
        seed=seed,
        workers=workers,
    )
    # Words never seen: gensim's initial scale, seeded independently of gensim's own stream.
    rng = np.random.default_rng(seed)
    out = rng.uniform(-0.5 / dim, 0.5 / dim, size=(n_rows, dim)).astype(np.float32)
    key_to_index = model.wv.key_to_index
    vectors = model.wv.vectors
    for row, token in enumerate(vocab.tokens_):
        if token == PAD:
            continue
        pos = key_to_index.get(token)
        if pos is not None:
            out[row] = vectors[pos]
    out[PAD_ID] = 0.0
    return out
