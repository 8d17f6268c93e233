r"""MARN's text pipeline: tokenisation, training-set vocabulary, truncated id sequences.

Follows docs/methods.md section 4.1 (Sun et al. 2022, after CAML's preprocessing): lowercase, ``\w+``
tokens, tokens made only of numeric characters dropped, first 4,000 tokens kept; the vocabulary
is every word occurring in at least 3 *training* documents (document frequency, not count),
others map to UNK; PAD = 0, UNK = 1.

The vocabulary's row order (``tokens_``) is the row order of any embedding matrix: a later
word2vec step trains on the same tokenised training documents and fills one row per entry of
``tokens_`` (PAD row zero, UNK row e.g. mean or zero), so nothing here needs to change for it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

PAD = "<pad>"
UNK = "<unk>"
PAD_ID = 0
UNK_ID = 1
MARN_MAX_LEN = 4000
MARN_MIN_DF = 3

_WORD = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    r"""Lower-cased ``\w+`` tokens of ``text``, without purely numeric tokens (``"42"``, ``"3"``).

    Tokens mixing letters and digits (``"2nd"``, ``"b12"``) are kept, as in CAML / MARN
    (``str.isnumeric``). ``\w`` is Unicode-aware, so Spanish ``"años"`` stays one token.
    """
    return [tok for tok in _WORD.findall(text.lower()) if not tok.isnumeric()]


class TextVocab:
    """Word vocabulary fitted on training documents, scikit-learn style (``fit`` returns self).

    Attributes (after ``fit``):
        tokens_: index -> token; ``tokens_[0] == PAD``, ``tokens_[1] == UNK``, then the kept words
            in alphabetical order (deterministic, independent of document order).
        index_: token -> index.
        doc_freq_: kept word -> number of training documents containing it.
    """

    def __init__(self, min_df: int = MARN_MIN_DF) -> None:
        if isinstance(min_df, bool) or not isinstance(min_df, int) or min_df < 1:
            raise ValueError(f"min_df is {min_df!r}; expected an integer >= 1 (MARN uses 3).")
        self.min_df = min_df

    def fit(self, documents: Iterable[Sequence[str]]) -> TextVocab:
        """Keep every token occurring in at least ``min_df`` of ``documents`` (token lists)."""
        df: Counter[str] = Counter()
        for tokens in documents:
            if isinstance(tokens, str):
                raise ValueError("fit expects an iterable of token lists; got a str (call tokenize first).")
            df.update(set(tokens))
        df.pop(PAD, None)
        df.pop(UNK, None)
        kept = sorted(tok for tok, n in df.items() if n >= self.min_df)
        self._set(kept, {tok: df[tok] for tok in kept})
        return self

    def _set(self, words: list[str], doc_freq: dict[str, int]) -> None:
        self.tokens_: list[str] = [PAD, UNK, *words]
        self.index_: dict[str, int] = {tok: i for i, tok in enumerate(self.tokens_)}
        self.doc_freq_: dict[str, int] = doc_freq

    def _check_fitted(self) -> None:
        if not hasattr(self, "tokens_"):
            raise ValueError("TextVocab is not fitted; call fit(training token lists) or from_dict first.")

    def __len__(self) -> int:
        self._check_fitted()
        return len(self.tokens_)

    def id(self, token: str) -> int:
        """Index of ``token``, UNK_ID if it is not in the vocabulary."""
        self._check_fitted()
        return self.index_.get(token, UNK_ID)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state: ``{"min_df", "tokens", "doc_freq"}`` (tokens without PAD / UNK)."""
        self._check_fitted()
        words = self.tokens_[2:]
        return {"min_df": self.min_df, "tokens": words, "doc_freq": [self.doc_freq_[w] for w in words]}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> TextVocab:
        """Inverse of :meth:`to_dict`; ValueError naming the field if the state is malformed."""
        for key in ("min_df", "tokens", "doc_freq"):
            if key not in state:
                raise ValueError(f"TextVocab state lacks field {key!r}; expected min_df, tokens, doc_freq.")
        words, freqs = list(state["tokens"]), list(state["doc_freq"])
        if len(words) != len(freqs):
            raise ValueError(f"TextVocab state has {len(words)} tokens but {len(freqs)} doc_freq values.")
        if len(set(words)) != len(words) or PAD in words or UNK in words:
            raise ValueError("TextVocab state field 'tokens' has duplicates or reserved tokens <pad> / <unk>.")
        vocab = cls(min_df=int(state["min_df"]))
        vocab._set(words, dict(zip(words, (int(f) for f in freqs), strict=True)))
        return vocab


def encode(tokens: Sequence[str], vocab: TextVocab, max_len: int = MARN_MAX_LEN) -> np.ndarray:
    """Ids of the first ``max_len`` tokens, shape (min(len(tokens), max_len),), int64, unpadded.

    Unknown words map to UNK_ID; padding to a batch's length (with PAD_ID = 0) is the batcher's job.
    """
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len is {max_len!r}; expected an integer >= 1 (MARN uses 4000).")
    return np.fromiter((vocab.id(t) for t in tokens[:max_len]), dtype=np.int64)
