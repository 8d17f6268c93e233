"""CandidateRanker: cross-fitting isolation, full ranking, state round trip, feature groups."""

import json

import numpy as np
import pytest

from clincode.coders import Mention, MentionCoder
from clincode.coders.neighbours import NeighbourVotes
from clincode.coders.ranker import ALL_GROUPS, FEATURE_GROUPS, CandidateRanker, candidate_features

WORDS = ["alfa", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"]


def corpus(n_docs: int = 24):
    """Documents with a shared code (fiebre -> R50.9) and one unique key/code each."""
    texts, gold, mentions = [], [], []
    for d in range(n_docs):
        unique = f"{WORDS[d % len(WORDS)]}{d}"
        texts.append(f"Paciente con fiebre alta. Hallazgo de {unique} zeta." + (" Tos seca." if d % 2 else ""))
        codes = ["R50.9", f"Q{d:02d}.0"] + (["R05"] if d % 2 else [])
        gold.append(codes)
        mentions.append([Mention("R50.9", "fiebre alta"), Mention(f"Q{d:02d}.0", f"{unique} zeta")]
                        + ([Mention("R05", "tos seca")] if d % 2 else []))
    labels = sorted({c for g in gold for c in g})
    return texts, gold, mentions, labels


def test_cross_fitting_never_lets_a_document_see_its_own_mentions(monkeypatch):
    texts, gold, mentions, labels = corpus()
    seen_by_fit: list[set[str]] = []
    original = MentionCoder.fit

    def recording_fit(self, fit_texts, *args, **kwargs):
        seen_by_fit.append(set(fit_texts))
        return original(self, fit_texts, *args, **kwargs)

    monkeypatch.setattr(MentionCoder, "fit", recording_fit)
    ranker = CandidateRanker(folds=4, neighbours=3, seed=1)
    docs, label_idx, feats, relevance = ranker.cross_fit_rows(texts, gold, mentions, labels)
    fold = ranker.fold_of(len(texts))
    assert len(seen_by_fit) == 4
    for k, fitted in enumerate(seen_by_fit):
        held = {texts[i] for i in np.flatnonzero(fold == k)}
        assert held and not (held & fitted)
    # each document's unique code (only in its own mentions) never gets dictionary evidence
    n_keys = feats[:, 0]
    for d in range(len(texts)):
        own = labels.index(f"Q{d:02d}.0")
        rows = (docs == d) & (label_idx == own)
        assert not rows.any() or (n_keys[rows] == 0).all()
    # while the shared code is matched from the other folds
    shared = (label_idx == labels.index("R50.9"))
    assert (n_keys[shared] > 0).all() and relevance[shared].all()


def test_fit_predict_full_ranking_and_state_round_trip():
    texts, gold, mentions, labels = corpus()
    ranker = CandidateRanker(folds=3, num_rounds=20, neighbours=3, gbm_params={"min_data_in_leaf": 2}).fit(
        texts, gold, mentions, labels
    )
    new = ["Fiebre alta y tos seca.", "Nada que destacar."]
    scores = ranker.predict_scores(new)
    assert scores.shape == (2, len(labels)) and np.isfinite(scores).all()
    assert len(set(np.round(scores[0], 12))) > 1
    top = labels[int(np.argmax(scores[0]))]
    assert top in {"R50.9", "R05"}
    again = CandidateRanker.from_dict(json.loads(json.dumps(ranker.to_dict())))
    np.testing.assert_allclose(again.predict_scores(new), scores)


def test_feature_groups_and_bad_parameters():
    texts, gold, mentions, labels = corpus(12)
    coder = MentionCoder("es").fit(texts, gold, mentions, labels)
    voter = NeighbourVotes(2).fit([" ".join(coder.normalizer.tokens(t).tokens) for t in texts],
                                  [[labels.index(c) for c in g] for g in gold], len(labels))
    docs, label_idx, feats = candidate_features(coder, ["Fiebre alta."], top_prior=2, neighbours=voter)
    assert feats.shape[1] == sum(len(v) for v in FEATURE_GROUPS.values())
    assert set(docs) == {0} and labels.index("R50.9") in label_idx
    with pytest.raises(ValueError, match="feature groups"):
        CandidateRanker(groups=("match", "nonsense"))
    with pytest.raises(ValueError, match="folds"):
        CandidateRanker(folds=1)
    with pytest.raises(RuntimeError, match="not fitted"):
        CandidateRanker().predict_scores(["x"])
    assert set(ALL_GROUPS) == set(FEATURE_GROUPS)
