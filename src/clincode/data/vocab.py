"""Input-token vocabulary: event codes seen in the training split, PAD = 0, UNK = 1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from clincode.data.errors import DataError

PAD_ID = 0
UNK_ID = 1
SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]")
DEFAULT_EXCLUDE_CODES: tuple[str, ...] = ("MEDS_BIRTH",)
DEFAULT_EXCLUDE_PREFIXES: tuple[str, ...] = ("GENDER//",)


class Vocab:
    """Token ids of input event codes, fitted on the training split.

    Birth (carried as age) and sex (carried as a patient feature) are not tokens. Codes seen
    fewer than ``min_count`` times in training map to UNK, as does any code unseen in training.

    Args:
        min_count: minimum training count (number of training visits containing the code) for a
            code to get its own id.
        exclude_codes: codes that are never tokens.
        exclude_prefixes: code prefixes that are never tokens.

    Fitted attributes:
        tokens_: list[str], token of each id (``tokens_[0] == "[PAD]"``, ``tokens_[1] == "[UNK]"``),
            then codes most frequent first, ties by code string.
        counts_: np.ndarray int64, training count per id (0 for the two special tokens).
        index_: dict[str, int], code -> id.
    """

    pad_id = PAD_ID
    unk_id = UNK_ID

    def __init__(
        self,
        min_count: int = 1,
        exclude_codes: tuple[str, ...] = DEFAULT_EXCLUDE_CODES,
        exclude_prefixes: tuple[str, ...] = DEFAULT_EXCLUDE_PREFIXES,
    ) -> None:
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}.")
        self.min_count = min_count
        self.exclude_codes = tuple(exclude_codes)
        self.exclude_prefixes = tuple(exclude_prefixes)

    def is_token_code(self, code: str) -> bool:
        """Whether ``code`` may be an input token at all (not birth, not a demographic)."""
        return code not in self.exclude_codes and not code.startswith(self.exclude_prefixes)

    def fit(self, data: Mapping[str, int] | Iterable[Iterable[str]]) -> Vocab:
        """Fit on code -> training count, or on the codes of each training visit (counted once per visit)."""
        counts: Counter[str] = Counter()
        if isinstance(data, Mapping):
            for code, n in data.items():
                counts[code] += int(n)
        else:
            for visit in data:
                counts.update(set(visit))
        kept = [(c, n) for c, n in counts.items() if n >= self.min_count and self.is_token_code(c)]
        if not kept:
            raise DataError(
                f"no input code is seen at least min_count={self.min_count} times in the training split; "
                "lower min_count."
            )
        kept.sort(key=lambda item: (-item[1], item[0]))
        self.tokens_ = list(SPECIAL_TOKENS) + [c for c, _ in kept]
        self.counts_ = np.asarray([0, 0] + [n for _, n in kept], dtype=np.int64)
        self.index_ = {c: i for i, c in enumerate(self.tokens_)}
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "tokens_"):
            raise RuntimeError("this Vocab is not fitted yet; call fit() first.")

    def __len__(self) -> int:
        self._check_fitted()
        return len(self.tokens_)

    def transform(self, codes: Iterable[str]) -> list[int]:
        """Token id of each code in order (UNK for codes outside the vocabulary)."""
        self._check_fitted()
        return [self.index_.get(code, UNK_ID) if code not in SPECIAL_TOKENS else UNK_ID for code in codes]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        self._check_fitted()
        return {
            "kind": "Vocab",
            "version": 1,
            "min_count": self.min_count,
            "exclude_codes": list(self.exclude_codes),
            "exclude_prefixes": list(self.exclude_prefixes),
            "tokens": list(self.tokens_),
            "counts": [int(n) for n in self.counts_],
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Vocab:
        """Inverse of :meth:`to_dict`."""
        if state.get("kind") != "Vocab":
            raise ValueError(f"state has kind {state.get('kind')!r}, expected 'Vocab'.")
        tokens = list(state["tokens"])
        if tokens[: len(SPECIAL_TOKENS)] != list(SPECIAL_TOKENS):
            raise ValueError(f"Vocab state must start with {list(SPECIAL_TOKENS)}, got {tokens[:2]}.")
        vocab = cls(int(state["min_count"]), tuple(state["exclude_codes"]), tuple(state["exclude_prefixes"]))
        vocab.tokens_ = tokens
        vocab.counts_ = np.asarray(state["counts"], dtype=np.int64)
        vocab.index_ = {c: i for i, c in enumerate(tokens)}
        return vocab

    def __repr__(self) -> str:
        fitted = f", fitted size={len(self.tokens_)}" if hasattr(self, "tokens_") else ""
        return f"Vocab(min_count={self.min_count}{fitted})"
