"""A learned candidate ranker on top of the mention-dictionary coder (LightGBM, cross-fitted).

Candidates of a document: every label code with dictionary evidence, the ``top_prior`` most
frequent training codes, and the ``top_votes`` codes most voted for by the document's nearest
training documents (:mod:`clincode.coders.neighbours`). Each (document, candidate) pair gets features in named groups:

=========== =================================================================================
group       features
=========== =================================================================================
match       keys, sum / max / mean ``p(code|key)``, noisy-OR score, longest key (tokens),
            occurrences, log of the best key's support (``n_kc``) and of its rarest key's
            document count (``n_k``), description keys, relative first position
negation    share of negated occurrences (mean over keys), keys whose kept occurrence is negated,
            noisy-OR score with negated occurrences removed
prior       log training prior, candidate came from the prior list only
hierarchy   other candidates with evidence in the same 3-character category, best sibling
            score, log prior of the category, code length (specificity)
doc         log document length (tokens), candidates with evidence in the document
neighbours  nearest-neighbour vote for the code, its rank among the document's votes
backoff     candidate came from the hierarchy only, best score of a matched related code, related
            matched codes, relation of the best one (parent / sibling / child), code seen in the
            fitting documents (only with ``hierarchy_top > 0``)
=========== =================================================================================

Hierarchy candidates (``hierarchy_top > 0``): the ICD-10-CM parents, siblings and children
(:mod:`clincode.coders.hierarchy`) of the document's ``hierarchy_top`` best-matched codes join the
candidates. With ``coder_params={"extend_labels": True}`` the label space holds those codes even
when no training document has them, so a code never seen in training can be ranked; cross-fitting
gives the GBM such rows to learn from (codes of a held-out fold that the other folds lack).

Training rows come from *cross-fitting*: the training documents are split in ``folds`` folds and
the dictionary used to describe fold ``k`` is fitted on the other folds only, so no document is
described by keys, probabilities or a prior computed from itself. The GBM (LambdaRank by
default, one query per document) is then fitted on all rows; at prediction time the dictionary
fitted on all training documents describes the new documents. The output is a full ranking:
candidates by GBM score, then every other label code by training prior.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from clincode.coders.evidence import CodeEvidence, Span, ranked_evidence
from clincode.coders.mention_coder import Evidence, Mention, MentionCoder
from clincode.coders.neighbours import NeighbourVotes

FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "match": (
        "n_keys", "sum_p", "max_p", "mean_p", "noisy_or", "max_len", "occurrences",
        "log_best_hits", "log_min_key_docs", "n_description_keys", "first_position",
    ),
    "negation": ("negated_share", "n_negated_keys", "noisy_or_unnegated"),
    "prior": ("log_prior", "prior_only"),
    "hierarchy": ("siblings_with_evidence", "best_sibling_score", "log_category_prior", "code_length"),
    "doc": ("log_doc_tokens", "doc_candidates"),
    "neighbours": ("knn_vote", "knn_rank"),
    "backoff": ("backoff_only", "backoff_score", "backoff_sources", "backoff_parent", "backoff_sibling",
                "backoff_child", "seen"),
}
ALL_GROUPS: tuple[str, ...] = tuple(FEATURE_GROUPS)
# the groups used by default; "backoff" joins them when hierarchy candidates are on
DEFAULT_GROUPS: tuple[str, ...] = ("match", "negation", "prior", "hierarchy", "doc", "neighbours")
STATE_VERSION = 1


def _category(code: str) -> str:
    body = code.split("//", 1)[-1]
    return body[:3]


def candidate_features(
    coder: MentionCoder,
    texts: Sequence[str],
    top_prior: int,
    neighbours: NeighbourVotes | None = None,
    top_votes: int = 20,
    hierarchy_top: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates and their features for ``texts`` under a fitted ``coder`` (and neighbour votes).

    ``hierarchy_top``: the related codes of this many best-matched codes join the candidates.

    Returns ``doc_index`` [n_rows], ``label_index`` [n_rows] and ``features`` [n_rows,
    n_features] (all groups, in :data:`FEATURE_GROUPS` order), rows grouped by document.
    """
    prior = coder.prior
    categories = [_category(c) for c in coder.label_codes]
    category_prior: dict[str, float] = {}
    for cat, p in zip(categories, prior, strict=True):
        category_prior[cat] = category_prior.get(cat, 0.0) + float(p)
    top = [int(i) for i in np.argsort(-prior, kind="stable")[:top_prior] if prior[i] > 0]
    doc_rows, label_rows, feature_rows = [], [], []
    all_tokens = [coder.normalizer.tokens(text) for text in texts]
    votes = neighbours.votes([" ".join(t.tokens) for t in all_tokens]) if neighbours is not None else None
    for d, text in enumerate(texts):
        tokens = all_tokens[d]
        n_tokens = max(len(tokens.tokens), 1)
        evidence = coder.evidence(text, tokens)
        scores = {c: coder.match_score(ev) for c, ev in evidence.items()}
        by_category: dict[str, list[float]] = {}
        for c, s in scores.items():
            by_category.setdefault(categories[c], []).append(s)
        candidates = list(dict.fromkeys(list(evidence) + top))
        related: dict[int, tuple[float, int, int]] = {}
        if hierarchy_top > 0 and scores:
            best = sorted(scores, key=lambda c: (-scores[c], c))[:hierarchy_top]
            related = coder.hierarchy.backoff({c: scores[c] for c in best})
            candidates = list(dict.fromkeys(candidates + sorted(related)))
        vote_rank: dict[int, int] = {}
        if votes is not None:
            voted = [int(c) for c in np.argsort(-votes[d], kind="stable")[:top_votes] if votes[d, c] > 0]
            vote_rank = {c: r for r, c in enumerate(voted)}
            candidates = list(dict.fromkeys(candidates + voted))
        for c in candidates:
            ev: list[Evidence] = evidence.get(c, [])
            probs = [e.prob for e in ev]
            plain = [e.prob for e in ev if not e.negated]
            siblings = list(by_category.get(categories[c], []))
            if c in scores:
                siblings.remove(scores[c])
            row = [
                # match
                len(ev), sum(probs), max(probs, default=0.0), (sum(probs) / len(ev)) if ev else 0.0,
                scores.get(c, 0.0), max((e.length for e in ev), default=0), sum(e.occurrences for e in ev),
                math.log1p(max((e.key_hits for e in ev), default=0)),
                math.log1p(min((e.key_docs for e in ev), default=0)),
                sum(e.description for e in ev), (min(e.first for e in ev) / n_tokens) if ev else 1.0,
                # negation
                (sum(e.negated_share for e in ev) / len(ev)) if ev else 0.0, sum(e.negated for e in ev),
                1.0 - math.prod(1.0 - p for p in plain) if plain else 0.0,
                # prior
                math.log(prior[c] + 1e-4), float(not ev),
                # hierarchy
                len(siblings), max(siblings, default=0.0), math.log(category_prior[categories[c]] + 1e-4),
                len(coder.label_codes[c].split("//", 1)[-1].replace(".", "")),
                # doc
                math.log(n_tokens), len(evidence),
                # neighbours
                float(votes[d, c]) if votes is not None else 0.0,
                math.log1p(vote_rank.get(c, top_votes)),
            ]
            back = related.get(c)
            row += [  # backoff
                float(back is not None and not ev and c not in top and c not in vote_rank),
                back[0] if back else 0.0, back[1] if back else 0,
                *(float(back is not None and back[2] == j) for j in range(3)),
                float(prior[c] > 0),
            ]
            doc_rows.append(d)
            label_rows.append(c)
            feature_rows.append(row)
    width = sum(len(v) for v in FEATURE_GROUPS.values())
    features = np.array(feature_rows, dtype=np.float64).reshape(-1, width)
    return np.array(doc_rows, dtype=np.int64), np.array(label_rows, dtype=np.int64), features


def _columns(groups: Sequence[str]) -> np.ndarray:
    unknown = [g for g in groups if g not in FEATURE_GROUPS]
    if unknown or not groups:
        raise ValueError(f"feature groups {list(groups)!r}; expected a non-empty subset of {', '.join(ALL_GROUPS)}")
    cols, start = [], 0
    for name, feats in FEATURE_GROUPS.items():
        if name in groups:
            cols += list(range(start, start + len(feats)))
        start += len(feats)
    return np.array(cols, dtype=np.int64)


class CandidateRanker:
    """Cross-fitted LightGBM ranker over the dictionary coder's candidates (see the module docstring).

    Args:
        coder_params: keyword arguments of :class:`MentionCoder` (language, smoothing, ...).
        folds: cross-fitting folds over the training documents (>= 2).
        top_prior: most frequent training codes added to every document's candidates.
        groups: feature groups used (default: :data:`DEFAULT_GROUPS`, plus ``backoff`` when
            ``hierarchy_top > 0``).
        objective: ``"lambdarank"`` or ``"binary"``.
        gbm_params: extra LightGBM parameters.
        num_rounds: boosting rounds.
        neighbours: nearest training documents voting for codes (0: no neighbour votes).
        top_votes: most voted codes added to the candidates.
        seed: fold assignment and LightGBM seed.
        hierarchy_top: the ICD-10-CM relatives of this many best-matched codes per document join
            the candidates (0: none); pair with ``coder_params["extend_labels"]`` to reach codes
            outside the training codes.
    """

    def __init__(
        self,
        coder_params: Mapping[str, Any] | None = None,
        *,
        folds: int = 5,
        top_prior: int = 30,
        groups: Sequence[str] | None = None,
        objective: str = "lambdarank",
        gbm_params: Mapping[str, Any] | None = None,
        num_rounds: int = 300,
        neighbours: int = 20,
        top_votes: int = 20,
        seed: int = 0,
        hierarchy_top: int = 0,
    ) -> None:
        if folds < 2:
            raise ValueError(f"folds is {folds}; cross-fitting needs at least 2")
        if objective not in ("lambdarank", "binary"):
            raise ValueError(f"objective is {objective!r}; expected 'lambdarank' or 'binary'")
        self.coder_params = dict(coder_params or {})
        if float(self.coder_params.get("negation_factor", 1.0)) == 1.0:
            # negation leaves the scores alone at factor 1; the cue search still feeds the negation features
            self.coder_params["negation_window"] = 5
        self.folds, self.top_prior, self.seed = int(folds), int(top_prior), int(seed)
        self.hierarchy_top = int(hierarchy_top)
        if groups is None:
            groups = DEFAULT_GROUPS + (("backoff",) if self.hierarchy_top > 0 else ())
        self.groups = tuple(groups)
        self._cols = _columns(self.groups)
        self.objective = objective
        self.gbm_params = dict(gbm_params or {})
        self.num_rounds = int(num_rounds)
        self.neighbours, self.top_votes = int(neighbours), int(top_votes)
        self.coder: MentionCoder | None = None
        self.voter: NeighbourVotes | None = None
        self.booster: Any = None

    def fold_of(self, n_docs: int) -> np.ndarray:
        """Fold number of each training document (a seeded permutation, near-equal folds)."""
        order = np.random.default_rng(self.seed).permutation(n_docs)
        fold = np.empty(n_docs, dtype=np.int64)
        fold[order] = np.arange(n_docs) % self.folds
        return fold

    def cross_fit_rows(
        self,
        texts: Sequence[str],
        gold: Sequence[Sequence[str]],
        mentions: Sequence[Sequence[Mention | Mapping[str, Any]]] | None,
        label_codes: Sequence[str],
        descriptions: Mapping[str, Sequence[str]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Training rows: (doc_index, label_index, features, relevance), each fold described by the others."""
        fold = self.fold_of(len(texts))
        gold_sets: list[set[int]] = []
        parts = []
        for k in range(self.folds):
            inside = np.flatnonzero(fold != k).tolist()
            held = np.flatnonzero(fold == k)
            coder = MentionCoder(**self.coder_params).fit(
                [texts[i] for i in inside],
                [gold[i] for i in inside],
                None if mentions is None else [mentions[i] for i in inside],
                label_codes,
                descriptions=descriptions,
            )
            if not gold_sets:  # the coder's label space (extended or not) is the same in every fold
                index = {c: i for i, c in enumerate(coder.label_codes)}
                gold_sets = [{index[c] for c in g if c in index} for g in gold]
            voter = self._fit_voter(coder, [texts[i] for i in inside], [gold_sets[i] for i in inside])
            docs, labels, feats = candidate_features(
                coder, [texts[i] for i in held.tolist()], self.top_prior, voter, self.top_votes, self.hierarchy_top
            )
            parts.append((held[docs], labels, feats))
        docs = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        feats = np.concatenate([p[2] for p in parts])
        order = np.argsort(docs, kind="stable")
        docs, labels, feats = docs[order], labels[order], feats[order]
        relevance = np.array([int(c in gold_sets[d]) for d, c in zip(docs, labels, strict=True)], dtype=np.int64)
        return docs, labels, feats, relevance

    def _fit_voter(self, coder: MentionCoder, texts: Sequence[str], gold_sets: Sequence[set[int]]) -> NeighbourVotes | None:
        if self.neighbours == 0:
            return None
        strings = [" ".join(coder.normalizer.tokens(t).tokens) for t in texts]
        return NeighbourVotes(self.neighbours).fit(strings, [sorted(g) for g in gold_sets], len(coder.label_codes))

    def fit(
        self,
        texts: Sequence[str],
        gold: Sequence[Sequence[str]],
        mentions: Sequence[Sequence[Mention | Mapping[str, Any]]] | None,
        label_codes: Sequence[str],
        *,
        descriptions: Mapping[str, Sequence[str]] | None = None,
    ) -> CandidateRanker:
        """Cross-fit the training rows, fit the GBM on them, and fit the final dictionary on all documents."""
        rows = self.cross_fit_rows(texts, gold, mentions, label_codes, descriptions)
        self.fit_rows(*rows)
        self.fit_describers(texts, gold, mentions, label_codes, descriptions)
        return self

    def fit_describers(
        self,
        texts: Sequence[str],
        gold: Sequence[Sequence[str]],
        mentions: Sequence[Sequence[Mention | Mapping[str, Any]]] | None,
        label_codes: Sequence[str],
        descriptions: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Fit the dictionary and the neighbour votes that describe new documents on all ``texts``."""
        self.coder = MentionCoder(**self.coder_params).fit(texts, gold, mentions, label_codes, descriptions=descriptions)
        index = {c: i for i, c in enumerate(self.coder.label_codes)}
        self.voter = self._fit_voter(self.coder, texts, [{index[c] for c in g if c in index} for g in gold])

    def candidate_rows(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate rows of new documents (doc_index, label_index, features) under the fitted describers."""
        if self.coder is None:
            raise RuntimeError("CandidateRanker is not fitted; call fit() or from_dict() first")
        return candidate_features(self.coder, texts, self.top_prior, self.voter, self.top_votes, self.hierarchy_top)

    def fit_rows(self, docs: np.ndarray, labels: np.ndarray, feats: np.ndarray, relevance: np.ndarray) -> None:
        """Fit the GBM on precomputed rows (documents contiguous in ``docs``)."""
        import lightgbm as lgb

        params: dict[str, Any] = {
            "objective": self.objective,
            "learning_rate": 0.05,
            "num_leaves": 15,
            "min_data_in_leaf": 20,
            "feature_fraction": 0.9,
            "bagging_fraction": 0.9,
            "bagging_freq": 1,
            "seed": self.seed,
            "deterministic": True,
            "num_threads": 1,
            "verbose": -1,
        }
        if self.objective == "lambdarank":
            params["lambdarank_truncation_level"] = 50
        params.update(self.gbm_params)
        _, group_sizes = np.unique(docs, return_counts=True)
        data = lgb.Dataset(feats[:, self._cols], label=relevance,
                           group=group_sizes if self.objective == "lambdarank" else None, free_raw_data=False)
        self.booster = lgb.train(params, data, num_boost_round=self.num_rounds)

    def predict_scores(self, texts: Sequence[str]) -> np.ndarray:
        """Scores [n_docs, n_labels]: candidates by GBM score above every other code, those by prior."""
        if self.coder is None or self.booster is None:
            raise RuntimeError("CandidateRanker is not fitted; call fit() or from_dict() first")
        return self.scores_from_rows(len(texts), *self.candidate_rows(texts))

    def scores_from_rows(self, n_docs: int, docs: np.ndarray, labels: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """The full score matrix from candidate rows of a fitted ranker."""
        assert self.coder is not None
        prior = self.coder.prior
        # Every document on its own scale-free footing (no dependence on the other documents scored):
        # non-candidates in [0, 0.5) by prior, candidates in (0.5, 1) by the GBM score's logistic.
        scores = np.tile(0.5 * prior / (prior.max() + 1.0), (n_docs, 1))
        if len(docs):
            raw = self.booster.predict(feats[:, self._cols])
            scores[docs, labels] = 0.5 + 0.5 / (1.0 + np.exp(-np.clip(raw, -50.0, 50.0)))
        return scores

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Scores in [0, 1] (monotone in :meth:`predict_scores`, which already lies there)."""
        return self.predict_scores(texts)

    def evidence_spans(self, texts: Sequence[str]) -> list[dict[int, list[Span]]]:
        """Per document, label index -> the dictionary's evidence spans of the code (see
        :meth:`MentionCoder.code_spans`); a candidate from the prior or the neighbour votes alone has none.
        """
        if self.coder is None:
            raise RuntimeError("CandidateRanker is not fitted; call fit() or from_dict() first")
        return self.coder.evidence_spans(texts)

    def predict_with_evidence(self, texts: Sequence[str]) -> tuple[np.ndarray, list[dict[int, list[Span]]]]:
        """(:meth:`predict_proba`, :meth:`evidence_spans`) of ``texts``."""
        return self.predict_proba(texts), self.evidence_spans(texts)

    def predict_evidence(self, texts: Sequence[str], top_k: int | None = 10) -> list[list[CodeEvidence]]:
        """Per document, its ``top_k`` codes by the ranker's score with their evidence spans (strongest first)."""
        scores, spans = self.predict_with_evidence(texts)
        assert self.coder is not None
        return ranked_evidence(scores, spans, self.coder.label_codes, top_k)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state: parameters, the dictionary coder's state and the LightGBM model text."""
        if self.coder is None or self.booster is None:
            raise RuntimeError("CandidateRanker is not fitted")
        return {
            "kind": "CandidateRanker",
            "version": STATE_VERSION,
            "params": {
                "coder_params": self.coder_params, "folds": self.folds, "top_prior": self.top_prior,
                "groups": list(self.groups), "objective": self.objective, "gbm_params": self.gbm_params,
                "num_rounds": self.num_rounds, "neighbours": self.neighbours, "top_votes": self.top_votes,
                "seed": self.seed, "hierarchy_top": self.hierarchy_top,
            },
            "coder": self.coder.to_dict(),
            "neighbours": None if self.voter is None else self.voter.to_dict(),
            "booster": self.booster.model_to_string(),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> CandidateRanker:
        """Rebuild a fitted ranker from :meth:`to_dict` output."""
        import lightgbm as lgb

        if state.get("kind") != "CandidateRanker" or state.get("version") != STATE_VERSION:
            raise ValueError(f"not a CandidateRanker state of version {STATE_VERSION}")
        ranker = cls(**state["params"])
        ranker.coder = MentionCoder.from_dict(state["coder"])
        ranker.booster = lgb.Booster(model_str=state["booster"])
        ranker.voter = None if state["neighbours"] is None else NeighbourVotes.from_dict(state["neighbours"])
        return ranker
