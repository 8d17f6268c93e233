"""Nearest-neighbour code votes: codes of the most similar training documents (TF-IDF cosine).

Documents are compared as normalised tokens (the coder's stems), uni- and bigrams, sublinear TF,
IDF from the fitting documents. For a new document the ``k`` most similar fitting documents vote
for their gold codes with their similarity: ``vote_c = sum_{n in top-k, c gold in n} sim(n) /
sum_{n in top-k} sim(n)``. The state is the fitting documents' token strings and label indices
(the TF-IDF model is refitted from them, deterministically).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse


class NeighbourVotes:
    """Similarity-weighted code votes of the ``k`` nearest fitting documents."""

    def __init__(self, k: int = 20) -> None:
        if k < 1:
            raise ValueError(f"k is {k}; expected at least one neighbour")
        self.k = int(k)

    def fit(self, token_strings: Sequence[str], gold: Sequence[Sequence[int]], n_labels: int) -> NeighbourVotes:
        """Fit on documents given as space-joined normalised tokens, with their gold label indices."""
        if not token_strings:
            raise ValueError("NeighbourVotes.fit needs at least one document")
        self.docs = list(token_strings)
        self.gold = [sorted({int(c) for c in g}) for g in gold]
        self.n_labels = int(n_labels)
        from sklearn.feature_extraction.text import TfidfVectorizer  # 1.3 s to import: only when neighbours are used

        self.vectorizer = TfidfVectorizer(
            analyzer="word", token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2),
            min_df=2 if len(self.docs) > 10 else 1, sublinear_tf=True,
        )
        self.matrix = self.vectorizer.fit_transform(self.docs)
        rows = [d for d, g in enumerate(self.gold) for _ in g]
        cols = [c for g in self.gold for c in g]
        self.labels = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(self.docs), self.n_labels))
        return self

    def votes(self, token_strings: Sequence[str]) -> np.ndarray:
        """Votes [n_docs, n_labels] in [0, 1]."""
        sims = (self.vectorizer.transform(list(token_strings)) @ self.matrix.T).toarray()
        k = min(self.k, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        weights = np.zeros_like(sims)
        np.put_along_axis(weights, top, np.take_along_axis(sims, top, axis=1), axis=1)
        total = weights.sum(1, keepdims=True)
        return np.asarray(weights @ self.labels) / np.where(total > 0, total, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "docs": self.docs, "gold": self.gold, "n_labels": self.n_labels}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> NeighbourVotes:
        return cls(state["k"]).fit(state["docs"], state["gold"], state["n_labels"])
