"""A mention-dictionary coder: annotated evidence spans (and/or code descriptions) as match keys.

Fitting
    Every training mention (a code's evidence span) and, optionally, every code description is
    normalised (:mod:`clincode.coders.normalize`) into a *key*: its stemmed token sequence. Each
    key carries the codes it was annotated with (or describes). All keys go into one
    Aho-Corasick automaton (:mod:`clincode.coders.matcher`), which is run over every training
    document. For a key ``k`` and one of its codes ``c``::

        n_k   = training documents where k occurs (matched in the text, or annotated there)
        n_kc  = those of them where c is a gold code
        p(c | k) = (n_kc + alpha) / (n_k + alpha + beta)            (additive smoothing)

Scoring
    In a new document every key occurrence proposes its codes with ``p(c | k)``, multiplied by
    ``negation_factor`` when a negation cue precedes it (:mod:`clincode.coders.negation`). Per
    code, the strongest occurrence of each distinct key counts once, and the keys combine by
    noisy-OR: ``s_c = 1 - prod_k (1 - p_k)`` (or ``max``). The output is a full ranking over the
    label space: ``score = s_c + prior_weight * prior_c`` where ``prior_c`` is the code's training
    document frequency, so codes without a match follow, in prior order (with a small
    ``prior_weight`` every matched code with ``s_c > prior_weight`` ranks above every unmatched one).

Fuzzy tokens
    With ``fuzzy = k > 0`` a text token of at least ``fuzzy_min_len`` characters that is no key
    token is read as the key token nearest to it in Levenshtein distance, if that distance is at
    most ``k`` (ties: the alphabetically first key token); this catches misspellings and
    inflections the stemmer keeps apart (``hipertension`` / ``hipertensoin``).

Codes outside the training codes
    With ``extend_labels`` the label space also holds the ICD-10-CM parents, siblings and children
    of the given codes (:mod:`clincode.coders.hierarchy`), after them in column order: codes never
    seen in training, with prior 0. With ``backoff > 0`` a matched code's related codes score
    ``backoff * s_c`` (the best source counts; a code's own match wins where it is higher), so a
    code with no key of its own can still rank above the unmatched ones.

Spanish descriptions
    With ``spanish_descriptions`` the WHO ICD-10 Spanish descriptions (package ``cie``) of every
    label code, extension included, join the description keys (docs/results.md: with alpha 0.1
    they let codes never seen in training be found on CodiEsp-D).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from clincode.coders.evidence import CodeEvidence, Span, ranked_evidence
from clincode.coders.hierarchy import LabelHierarchy, hierarchy_extension
from clincode.coders.matcher import BagMatcher, KeyMatcher, Match
from clincode.coders.negation import NegationDetector
from clincode.coders.normalize import TextNormalizer, Tokens, check_language

STATE_VERSION = 1
KEY_MODES: tuple[str, ...] = ("exact", "bag", "both")


@dataclass(frozen=True)
class Mention:
    """One evidence span: the code it supports and its text."""

    code: str
    text: str


@dataclass(frozen=True)
class Evidence:
    """One key's strongest occurrence in a document, for one candidate code."""

    key_id: int
    prob: float  # p(code | key), before negation
    length: int  # tokens in the key
    first: int  # token index of the earliest occurrence
    occurrences: int
    negated: bool  # the kept (strongest) occurrence is negated
    negated_share: float  # share of the key's occurrences that are negated
    description: bool  # key comes from a code description
    key_docs: int  # n_k: training documents with the key
    key_hits: int  # n_kc: of those, documents where the code is gold


def as_mention(item: Mention | Mapping[str, Any] | tuple[str, str]) -> Mention:
    """A Mention from a Mention, a mapping with ``code`` and ``text`` (a NotesTable mention row) or a pair."""
    if isinstance(item, Mention):
        return item
    if isinstance(item, Mapping):
        return Mention(str(item["code"]), str(item["text"]))
    code, text = item
    return Mention(str(code), str(text))


def _check_texts(texts: Sequence[str], what: str) -> None:
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{what} document {i} has no text ({text!r}); expected a non-empty string per document.")


class MentionCoder:
    """Dictionary coder over evidence mentions and/or code descriptions (see the module docstring).

    Args:
        language: ``"es"`` or ``"en"`` (Snowball stemmer and negation cues).
        alpha, beta: additive smoothing of ``p(code | key)``.
        negation_window: tokens before a match searched for a negation cue (0: no negation).
        negation_factor: multiplier of ``p`` for a negated occurrence (1.0: negation ignored).
        combine: ``"noisy_or"`` or ``"max"`` over a code's keys.
        prior_weight: weight of the training prior added to the match score.
        longest_only: drop an occurrence that lies inside a longer occurrence of another key.
        keys: ``"exact"`` (phrase keys, contiguous tokens), ``"bag"`` (a phrase of two or more
            content words becomes a bag-of-words key, see :class:`~clincode.coders.matcher.BagMatcher`;
            shorter phrases stay exact) or ``"both"``.
        bag_window: extra tokens allowed inside a bag match.
        prefix_len: truncate stems to this many characters (0: no truncation).
        extend_labels: add the ICD-10-CM parents, siblings and children of ``label_codes`` to the
            label space (after them; see the module docstring).
        backoff: score of a code related to a matched code, as a share of that code's match
            score (0: no back-off).
        fuzzy: largest edit distance between a text token and the key token it is read as
            (0: exact tokens only; see the module docstring).
        fuzzy_min_len: shortest text token read fuzzily.
        spanish_descriptions: add the WHO ICD-10 Spanish descriptions of the label codes (extension
            included; back-off to the nearest WHO ancestor, :func:`clincode.coders.terminology.cie10_es_descriptions`)
            to the description keys; pair with ``alpha > 0`` so they can propose codes never seen in training.
    """

    def __init__(
        self,
        language: str = "es",
        *,
        alpha: float = 0.0,
        beta: float = 1.0,
        negation_window: int = 0,
        negation_factor: float = 1.0,
        combine: str = "noisy_or",
        prior_weight: float = 1e-3,
        longest_only: bool = False,
        keys: str = "exact",
        bag_window: int = 2,
        prefix_len: int = 0,
        extend_labels: bool = False,
        backoff: float = 0.0,
        fuzzy: int = 0,
        fuzzy_min_len: int = 6,
        spanish_descriptions: bool = False,
    ) -> None:
        check_language(language)
        if keys not in KEY_MODES:
            raise ValueError(f"keys is {keys!r}; expected one of {', '.join(KEY_MODES)}")
        if alpha < 0 or beta <= 0:
            raise ValueError(f"smoothing alpha={alpha}, beta={beta}; expected alpha >= 0 and beta > 0")
        if combine not in ("noisy_or", "max"):
            raise ValueError(f"combine is {combine!r}; expected 'noisy_or' or 'max'")
        if not 0.0 <= backoff <= 1.0:
            raise ValueError(f"backoff is {backoff}; expected a share in [0, 1] (0: no back-off)")
        if not 0.0 <= negation_factor <= 1.0:
            raise ValueError(f"negation_factor is {negation_factor}; expected a value in [0, 1]")
        self.language = language
        self.alpha, self.beta = float(alpha), float(beta)
        self.negation_window = int(negation_window)
        self.negation_factor = float(negation_factor)
        self.combine = combine
        self.prior_weight = float(prior_weight)
        self.longest_only = bool(longest_only)
        self.key_mode = keys
        self.bag_window = int(bag_window)
        self.prefix_len = int(prefix_len)
        self.extend_labels = bool(extend_labels)
        self.backoff = float(backoff)
        self._hierarchy: LabelHierarchy | None = None
        if fuzzy < 0 or fuzzy_min_len < 1:
            raise ValueError(f"fuzzy={fuzzy}, fuzzy_min_len={fuzzy_min_len}; expected fuzzy >= 0 and fuzzy_min_len >= 1")
        self.fuzzy, self.fuzzy_min_len = int(fuzzy), int(fuzzy_min_len)
        self.spanish_descriptions = bool(spanish_descriptions)
        self.normalizer = TextNormalizer(language, prefix_len=self.prefix_len)
        self.negation = NegationDetector(self.normalizer, window=self.negation_window)
        self._fitted = False

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        texts: Sequence[str],
        gold: Sequence[Sequence[str]],
        mentions: Sequence[Sequence[Mention | Mapping[str, Any] | tuple[str, str]]] | None,
        label_codes: Sequence[str],
        *,
        descriptions: Mapping[str, Sequence[str]] | None = None,
    ) -> MentionCoder:
        """Build the key dictionary and its probabilities from training documents.

        Args:
            texts: training documents.
            gold: each document's gold codes.
            mentions: each document's evidence mentions (None: no evidence, e.g. terminology only).
            label_codes: the label space (column order of :meth:`predict_scores`); keys of codes
                outside it are ignored. With ``extend_labels`` the fitted ``label_codes`` are these
                followed by their ICD-10-CM neighbours.
            descriptions: optional code -> description phrases, added as keys (terminology mode).

        Raises:
            ValueError: lengths differ, a document has no text, or no key is left.
        """
        n = len(texts)
        if len(gold) != n or (mentions is not None and len(mentions) != n):
            raise ValueError(f"texts ({n}), gold ({len(gold)}) and mentions must have one entry per document")
        _check_texts(texts, "training")
        self.label_codes = list(dict.fromkeys(label_codes))
        if not self.label_codes:
            raise ValueError("label_codes is empty; expected the codes to rank")
        if self.extend_labels:
            self.label_codes += hierarchy_extension(self.label_codes)
        self._hierarchy = None
        index = {c: i for i, c in enumerate(self.label_codes)}
        counts = np.zeros(len(self.label_codes), dtype=np.float64)
        gold_idx = []
        for codes in gold:
            ids = {index[c] for c in codes if c in index}
            gold_idx.append(ids)
            counts[list(ids)] += 1
        self.prior = counts / max(n, 1)

        key_id: dict[tuple[str, bool], int] = {}
        key_codes: list[set[int]] = []
        key_desc: list[bool] = []
        annotated: list[set[int]] = [set() for _ in range(n)]

        def add(phrase: str, code: int, description: bool) -> list[int]:
            """Ids of the key(s) of ``phrase`` for ``code`` (exact and/or bag, per the key mode)."""
            key = self.normalizer.key(phrase)
            if not key:
                return []
            bag = self.normalizer.content(key)
            forms: list[tuple[str, bool]] = []
            if self.key_mode in ("exact", "both") or len(bag) < 2:
                forms.append((key, False))
            if self.key_mode in ("bag", "both") and len(bag) >= 2:
                forms.append((" ".join(bag), True))
            ids = []
            for form in forms:
                k = key_id.get(form)
                if k is None:
                    k = key_id[form] = len(key_codes)
                    key_codes.append(set())
                    key_desc.append(description)
                key_codes[k].add(code)
                key_desc[k] = key_desc[k] and description  # a key seen as a mention is a mention key
                ids.append(k)
            return ids

        for d, doc_mentions in enumerate(mentions or []):
            for item in doc_mentions:
                m = as_mention(item)
                if m.code in index:
                    annotated[d].update(add(m.text, index[m.code], False))
        descriptions = dict(descriptions or {})
        if self.spanish_descriptions:
            from clincode.coders.terminology import cie10_es_descriptions

            for code, phrases in cie10_es_descriptions(self.label_codes).items():
                descriptions[code] = list(dict.fromkeys([*descriptions.get(code, ()), *phrases]))
        for code, described in descriptions.items():
            if code in index:
                for phrase in described:
                    add(phrase, index[code], True)
        if not key_codes:
            raise ValueError(
                "the dictionary is empty: no mention or description of a label code gave a key; "
                "pass evidence mentions and/or descriptions of codes in label_codes"
            )
        self.keys = [form for form, _ in key_id]
        self.key_bag = np.array([is_bag for _, is_bag in key_id], dtype=bool)
        self._build_matchers()
        self.key_description = np.array(key_desc, dtype=bool)
        self.key_codes = [np.array(sorted(c), dtype=np.int64) for c in key_codes]
        self.key_docs = np.zeros(len(self.keys), dtype=np.int64)
        self.pair_hits = [np.zeros(len(c), dtype=np.int64) for c in self.key_codes]
        for d, text in enumerate(texts):
            present = {m.key_id for m in self.find(self.normalizer.tokens(text))} | annotated[d]
            for k in present:
                self.key_docs[k] += 1
                if gold_idx[d]:
                    hits = self.pair_hits[k]
                    for j, c in enumerate(self.key_codes[k]):
                        if c in gold_idx[d]:
                            hits[j] += 1
        self._set_probs()
        self._fitted = True
        return self

    def _build_matchers(self) -> None:
        self._key_tokens = sorted({t for key in self.keys for t in key.split()})
        self._key_token_set = frozenset(self._key_tokens)
        self._fuzzy_cache: dict[str, str] = {}
        self._exact_ids = np.flatnonzero(~self.key_bag)
        self._bag_ids = np.flatnonzero(self.key_bag)
        self.matcher = KeyMatcher([self.keys[k] for k in self._exact_ids])
        self.bag_matcher = BagMatcher([tuple(self.keys[k].split()) for k in self._bag_ids], self.bag_window)

    def find(self, tokens: Tokens) -> list[Match]:
        """All key occurrences (exact and bag keys) in a normalised text; ``key_id`` indexes ``keys``."""
        if self.fuzzy > 0:
            tokens = self.fuzzy_tokens(tokens)
        out = [Match(int(self._exact_ids[m.key_id]), m.first, m.last) for m in self.matcher.find(tokens)]
        if len(self._bag_ids):
            out += [Match(int(self._bag_ids[m.key_id]), m.first, m.last) for m in self.bag_matcher.find(tokens)]
        return out

    def nearest_key_token(self, token: str) -> str:
        """``token`` if it is a key token or too short, else the nearest key token within ``fuzzy`` edits (or ``token``)."""
        if token in self._key_token_set or len(token) < self.fuzzy_min_len or self.fuzzy <= 0:
            return token
        out = self._fuzzy_cache.get(token)
        if out is None:
            from rapidfuzz import process
            from rapidfuzz.distance import Levenshtein

            hits = process.extract(token, self._key_tokens, scorer=Levenshtein.distance, score_cutoff=self.fuzzy, limit=None)
            out = min(hits, key=lambda h: (h[1], h[0]))[0] if hits else token
            self._fuzzy_cache[token] = out
        return out

    def fuzzy_tokens(self, tokens: Tokens) -> Tokens:
        """``tokens`` with each token replaced by :meth:`nearest_key_token` (spans and sentences kept)."""
        return replace(tokens, tokens=[self.nearest_key_token(t) for t in tokens.tokens])

    def _set_probs(self) -> None:
        self.key_probs = [
            (hits + self.alpha) / (self.key_docs[k] + self.alpha + self.beta) for k, hits in enumerate(self.pair_hits)
        ]

    def set_params(self, **params: Any) -> MentionCoder:
        """Change scoring parameters of a fitted coder without refitting (alpha/beta recompute p)."""
        for name, value in params.items():
            if name not in ("alpha", "beta", "negation_window", "negation_factor", "combine", "prior_weight", "longest_only", "backoff"):
                raise ValueError(f"unknown or structural parameter {name!r}")
            setattr(self, name, value)
        self.negation = NegationDetector(self.normalizer, window=int(self.negation_window))
        if self._fitted:
            self._set_probs()
        return self

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not self._fitted:
            raise RuntimeError("MentionCoder is not fitted; call fit() or from_dict() first")

    def _kept_matches(self, tokens: Tokens) -> list[Match]:
        """Key occurrences in ``tokens`` that count (with ``longest_only``, none inside a longer one)."""
        matches = self.find(tokens)
        if self.longest_only and matches:
            spans = [(m.first, m.last) for m in matches]
            matches = [
                m
                for m in matches
                if not any(first <= m.first and m.last <= last and (last - first) > (m.last - m.first) for first, last in spans)
            ]
        return matches

    def evidence(self, text: str, tokens: Tokens | None = None, matches: list[Match] | None = None) -> dict[int, list[Evidence]]:
        """Label index -> one Evidence per matching key (its strongest occurrence) for one document.

        ``tokens`` / ``matches``: the document's normalised tokens and kept key matches, when the
        caller has them already (:meth:`predict_with_evidence` matches once for scores and spans).
        """
        self._check_fitted()
        tokens = tokens if tokens is not None else self.normalizer.tokens(text)
        matches = matches if matches is not None else self._kept_matches(tokens)
        cue_ends = self.negation.cue_positions(tokens) if self.negation_window > 0 else []
        per_key: dict[int, list[tuple[int, bool]]] = {}
        for m in matches:
            per_key.setdefault(m.key_id, []).append((m.first, self.negation.negated(m, tokens, cue_ends) if cue_ends else False))
        out: dict[int, list[Evidence]] = {}
        for k, occ in per_key.items():
            neg_share = sum(neg for _, neg in occ) / len(occ)
            plain = [o for o in occ if not o[1]]
            first, negated = (plain[0] if plain else occ[0])
            length = self.keys[k].count(" ") + 1  # tokens of the key (bag: content words)
            for c, p, h in zip(self.key_codes[k], self.key_probs[k], self.pair_hits[k], strict=True):
                out.setdefault(int(c), []).append(
                    Evidence(k, float(p), length, int(first), len(occ), bool(negated), neg_share,
                             bool(self.key_description[k]), int(self.key_docs[k]), int(h))
                )
        return out

    def code_spans(self, text: str, tokens: Tokens | None = None, matches: list[Match] | None = None) -> dict[int, list[Span]]:
        """Label index -> the character spans of every occurrence of the keys proposing it.

        The spans of a code are what carries its match score (:mod:`clincode.coders.evidence`):
        each occurrence of each of its keys, as ``text[start:end]``, weighted by ``p(code | key)``
        (times ``negation_factor`` when negated), strongest first, then by position; a span found
        by two keys counts once, with the larger weight. Codes scored by hierarchy back-off only
        have no span of their own and are absent.
        """
        self._check_fitted()
        tokens = tokens if tokens is not None else self.normalizer.tokens(text)
        matches = matches if matches is not None else self._kept_matches(tokens)
        cue_ends = self.negation.cue_positions(tokens) if self.negation_window > 0 else []
        best: dict[int, dict[tuple[int, int], float]] = {}
        for m in matches:
            start, end = int(tokens.starts[m.first]), int(tokens.ends[m.last])
            factor = self.negation_factor if cue_ends and self.negation.negated(m, tokens, cue_ends) else 1.0
            for c, p in zip(self.key_codes[m.key_id], self.key_probs[m.key_id], strict=True):
                spans = best.setdefault(int(c), {})
                w = float(p) * factor
                if w > spans.get((start, end), -1.0):
                    spans[(start, end)] = w
        return {
            c: [Span(s, e, text[s:e], w) for (s, e), w in sorted(spans.items(), key=lambda kv: (-kv[1], kv[0]))]
            for c, spans in best.items()
        }

    def evidence_spans(self, texts: Sequence[str]) -> list[dict[int, list[Span]]]:
        """Per document, label index -> its evidence spans (:meth:`code_spans`); codes without any are absent."""
        self._check_fitted()
        _check_texts(texts, "input")
        return [self.code_spans(text) for text in texts]

    def predict_with_evidence(self, texts: Sequence[str]) -> tuple[np.ndarray, list[dict[int, list[Span]]]]:
        """(:meth:`predict_proba`, :meth:`evidence_spans`) of ``texts``, matching each document once."""
        self._check_fitted()
        _check_texts(texts, "input")
        scores = np.tile(self.prior_weight * self.prior, (len(texts), 1))
        spans = []
        for d, text in enumerate(texts):
            tokens = self.normalizer.tokens(text)
            matches = self._kept_matches(tokens)
            for c, s in self.match_scores(text, tokens, matches).items():
                scores[d, c] += s
            spans.append(self.code_spans(text, tokens, matches))
        return scores / (1.0 + self.prior_weight), spans

    def predict_evidence(self, texts: Sequence[str], top_k: int | None = 10) -> list[list[CodeEvidence]]:
        """Per document, its ``top_k`` codes by :meth:`predict_proba` with their evidence spans (strongest first)."""
        return ranked_evidence(*self.predict_with_evidence(texts), self.label_codes, top_k)

    def match_score(self, evidence: Sequence[Evidence]) -> float:
        """Combined match score of one code from its evidence (noisy-OR or max, negation applied)."""
        probs = [e.prob * (self.negation_factor if e.negated else 1.0) for e in evidence]
        if not probs:
            return 0.0
        if self.combine == "max":
            return max(probs)
        return 1.0 - math.prod(1.0 - p for p in probs)

    @property
    def hierarchy(self) -> LabelHierarchy:
        """ICD-10-CM relations inside the label space (built on first use)."""
        self._check_fitted()
        if self._hierarchy is None:
            self._hierarchy = LabelHierarchy(self.label_codes)
        return self._hierarchy

    def match_scores(self, text: str, tokens: Tokens | None = None, matches: list[Match] | None = None) -> dict[int, float]:
        """Label index -> match score of one document, hierarchy back-off included (``backoff > 0``)."""
        scores = {c: self.match_score(ev) for c, ev in self.evidence(text, tokens, matches).items()}
        if self.backoff > 0.0:
            for r, (s, _, _) in self.hierarchy.backoff(scores).items():
                if self.backoff * s > scores.get(r, 0.0):
                    scores[r] = self.backoff * s
        return scores

    def predict_scores(self, texts: Sequence[str]) -> np.ndarray:
        """Scores [n_docs, n_labels] (float64) in ``label_codes`` order; higher ranks first."""
        self._check_fitted()
        _check_texts(texts, "input")
        scores = np.tile(self.prior_weight * self.prior, (len(texts), 1))
        for d, text in enumerate(texts):
            for c, s in self.match_scores(text).items():
                scores[d, c] += s
        return scores

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`predict_scores` divided by its largest possible value (1 + prior weight): in [0, 1]."""
        return self.predict_scores(texts) / (1.0 + self.prior_weight)

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (parameters, label space, prior, keys with their counts)."""
        self._check_fitted()
        return {
            "kind": "MentionCoder",
            "version": STATE_VERSION,
            "params": {
                "language": self.language,
                "alpha": self.alpha,
                "beta": self.beta,
                "negation_window": self.negation_window,
                "negation_factor": self.negation_factor,
                "combine": self.combine,
                "prior_weight": self.prior_weight,
                "longest_only": self.longest_only,
                "keys": self.key_mode,
                "bag_window": self.bag_window,
                "prefix_len": self.prefix_len,
                "extend_labels": self.extend_labels,
                "backoff": self.backoff,
                "fuzzy": self.fuzzy,
                "fuzzy_min_len": self.fuzzy_min_len,
                "spanish_descriptions": self.spanish_descriptions,
            },
            "label_codes": list(self.label_codes),
            "prior": [float(p) for p in self.prior],
            "keys": [
                {
                    "key": key,
                    "bag": bool(self.key_bag[k]),
                    "description": bool(self.key_description[k]),
                    "docs": int(self.key_docs[k]),
                    "codes": [int(c) for c in self.key_codes[k]],
                    "hits": [int(h) for h in self.pair_hits[k]],
                }
                for k, key in enumerate(self.keys)
            ],
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> MentionCoder:
        """Rebuild a fitted coder from :meth:`to_dict` output."""
        if state.get("kind") != "MentionCoder" or state.get("version") != STATE_VERSION:
            raise ValueError(f"not a MentionCoder state of version {STATE_VERSION}: kind={state.get('kind')!r}, version={state.get('version')!r}")
        coder = cls(**state["params"])
        coder.label_codes = list(state["label_codes"])
        coder.prior = np.asarray(state["prior"], dtype=np.float64)
        keys = state["keys"]
        coder.keys = [k["key"] for k in keys]
        coder.key_bag = np.array([k["bag"] for k in keys], dtype=bool)
        coder._build_matchers()
        coder.key_description = np.array([k["description"] for k in keys], dtype=bool)
        coder.key_docs = np.array([k["docs"] for k in keys], dtype=np.int64)
        coder.key_codes = [np.array(k["codes"], dtype=np.int64) for k in keys]
        coder.pair_hits = [np.array(k["hits"], dtype=np.int64) for k in keys]
        coder._set_probs()
        coder._fitted = True
        return coder
