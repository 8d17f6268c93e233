"""Text normalisation shared by the dictionary coders: lower case, Snowball stems, no accents.

A text becomes a sequence of tokens (runs of letters and digits), each lower-cased, stemmed with
the Snowball stemmer of the note's language (PyStemmer) and stripped of accents (after stemming:
the Spanish stemmer expects the accented forms). The tokens are kept with their character spans in
the original text and a sentence number (sentences end at ``.``, ``;``, ``:``, ``?``, ``!`` or a
line break), which the negation feature uses to stay inside one sentence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import Stemmer

LANGUAGES: dict[str, str] = {"es": "spanish", "en": "english"}
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"[.;:?!\n]")


def check_language(language: str) -> str:
    """The Snowball algorithm name of ``language`` ("es" / "en"); ValueError for anything else."""
    if language not in LANGUAGES:
        raise ValueError(f"language is {language!r}; expected one of {', '.join(repr(k) for k in LANGUAGES)}.")
    return LANGUAGES[language]


def strip_accents(text: str) -> str:
    """``text`` without combining marks (``á`` -> ``a``, ``ñ`` -> ``n``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class Tokens:
    """A normalised text: tokens, their character spans in the original, and sentence numbers."""

    tokens: list[str]
    starts: np.ndarray  # int64 [n_tokens]
    ends: np.ndarray  # int64 [n_tokens]
    sentence: np.ndarray  # int64 [n_tokens]

    def joined(self) -> str:
        """The tokens as one string with a space before, between and after them (word boundaries)."""
        return " " + " ".join(self.tokens) + " " if self.tokens else " "


STOPWORDS: dict[str, tuple[str, ...]] = {
    "es": ("de", "del", "la", "las", "el", "los", "en", "con", "y", "e", "a", "al", "por", "para", "un", "una",
           "unos", "unas", "lo", "se", "que", "o", "u", "su", "sus"),
    "en": ("of", "the", "a", "an", "in", "on", "with", "and", "to", "for", "by", "at", "from", "or", "as", "is",
           "was", "his", "her", "their"),
}


class TextNormalizer:
    """Lower case, tokenise, stem (Snowball for ``language``), strip accents, optionally truncate.

    Args:
        language: ``"es"`` or ``"en"``.
        prefix_len: keep only the first ``prefix_len`` characters of each stem (0: whole stem);
            merges inflections the stemmer keeps apart (``pulmon`` / ``pulmonar``).
    """

    def __init__(self, language: str, prefix_len: int = 0) -> None:
        if prefix_len < 0:
            raise ValueError(f"prefix_len is {prefix_len}; expected >= 0 (0: no truncation)")
        self.language = language
        self.prefix_len = prefix_len
        self._stemmer = Stemmer.Stemmer(check_language(language))
        self._cache: dict[str, str] = {}
        self.stopwords: frozenset[str] = frozenset(self.stem(w) for w in STOPWORDS[language])

    def stem(self, word: str) -> str:
        """Normalised form of one lower-case word."""
        out = self._cache.get(word)
        if out is None:
            out = strip_accents(self._stemmer.stemWord(word))
            if self.prefix_len:
                out = out[: self.prefix_len]
            self._cache[word] = out
        return out

    def content(self, key: str) -> tuple[str, ...]:
        """The distinct non-stopword tokens of a normalised key, sorted (its bag of words)."""
        return tuple(sorted({t for t in key.split() if t not in self.stopwords}))

    def tokens(self, text: str) -> Tokens:
        """Normalised tokens of ``text`` with their spans and sentence numbers."""
        words, starts, ends = [], [], []
        # offsets from the original text: lower-casing first would shift them where it changes a
        # character's length ("İ" -> "i̇"), and evidence spans index the original
        for m in _TOKEN.finditer(text):
            words.append(self.stem(m.group().lower()))
            starts.append(m.start())
            ends.append(m.end())
        breaks = np.array([m.start() for m in _SENTENCE_END.finditer(text)], dtype=np.int64)
        start_arr = np.array(starts, dtype=np.int64)
        sentence = np.searchsorted(breaks, start_arr, side="right") if len(breaks) else np.zeros(len(starts), np.int64)
        return Tokens(words, start_arr, np.array(ends, dtype=np.int64), sentence.astype(np.int64))

    def key(self, text: str) -> str:
        """The normalised key of a phrase: its tokens joined by single spaces ("" if none)."""
        return " ".join(self.tokens(text).tokens)
