"""CodiEsp ranking export: exact format, and MAP read back from the file equals MAP on the probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clincode.metrics.at_k import row_ranking
from clincode.tasks.coding.submission import codiesp_code, read_codiesp_ranking, trec_map, write_codiesp_ranking

LABELS = ["ICD10CM//N44.8", "ICD10CM//R52", "ICD10CM//S22.49XA", "ICD10CM//Z20.818"]


def test_exact_format(tmp_path: Path) -> None:
    probs = np.array([[0.1, 0.9, 0.3, 0.5], [0.7, 0.2, 0.2, 0.1]])
    out = tmp_path / "run" / "predD.tsv"
    write_codiesp_ranking(out, ["S0004-1", "S0211-2"], probs, LABELS)
    assert out.read_bytes() == (
        b"S0004-1\tr52\nS0004-1\tz20.818\nS0004-1\ts22.49xa\nS0004-1\tn44.8\n"
        # tie 0.2 / 0.2 keeps column order (r52 before s22.49xa)
        b"S0211-2\tn44.8\nS0211-2\tr52\nS0211-2\ts22.49xa\nS0211-2\tz20.818\n"
    )
    write_codiesp_ranking(out, ["S0004-1", "S0211-2"], probs, LABELS, top_k=2)
    assert out.read_text().splitlines() == ["S0004-1\tr52", "S0004-1\tz20.818", "S0211-2\tn44.8", "S0211-2\tr52"]
    assert [p.name for p in out.parent.iterdir()] == ["predD.tsv"]  # no temp file left behind


def test_code_spelling_matches_the_gold_files() -> None:
    # Gold lines of the release look like "S0004-06142005000700014-1\tn44.8" and "...\tbw03zzz".
    assert codiesp_code("ICD10CM//N44.8") == "n44.8"
    assert codiesp_code("ICD10CM//R52") == "r52"
    assert codiesp_code("ICD10CM//F17210") == "f17.210"  # undotted input gets CodiEsp's dot
    assert codiesp_code("ICD10PCS//BW03ZZZ") == "bw03zzz"
    with pytest.raises(ValueError, match="not a CodiEsp code"):
        codiesp_code("ICD9CM//428.0")


def test_vocab_filter_and_mixed_vocabularies(tmp_path: Path) -> None:
    labels = ["ICD10CM//N44.8", "ICD10PCS//BW03ZZZ", "ICD10CM//R52"]
    probs = np.array([[0.2, 0.9, 0.5]])
    with pytest.raises(ValueError, match="vocab="):
        write_codiesp_ranking(tmp_path / "x.tsv", ["d1"], probs, labels)
    write_codiesp_ranking(tmp_path / "d.tsv", ["d1"], probs, labels, vocab="ICD10CM")
    assert (tmp_path / "d.tsv").read_text() == "d1\tr52\nd1\tn44.8\n"
    write_codiesp_ranking(tmp_path / "p.tsv", ["d1"], probs, labels, vocab="ICD10PCS")
    assert (tmp_path / "p.tsv").read_text() == "d1\tbw03zzz\n"


def test_input_errors(tmp_path: Path) -> None:
    probs = np.zeros((2, 4))
    with pytest.raises(ValueError, match="probs must be"):
        write_codiesp_ranking(tmp_path / "x.tsv", ["a"], probs, LABELS)
    with pytest.raises(ValueError, match="duplicates"):
        write_codiesp_ranking(tmp_path / "x.tsv", ["a", "a"], probs, LABELS)
    with pytest.raises(ValueError, match="top_k"):
        write_codiesp_ranking(tmp_path / "x.tsv", ["a", "b"], probs, LABELS, top_k=0)
    with pytest.raises(FileNotFoundError):
        read_codiesp_ranking(tmp_path / "missing.tsv")


def test_map_read_back_equals_map_on_probs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n, v = 40, 25
    labels = [f"ICD10CM//A{j:02d}.{j % 7}" for j in range(v)]
    probs = rng.random((n, v))  # continuous: no ties
    targets = (rng.random((n, v)) < 0.15).astype(np.int64)
    targets[3] = 0  # a document without gold codes is left out of MAP by both
    doc_ids = [f"S{i:04d}-1" for i in range(n)]
    out = tmp_path / "pred.tsv"
    write_codiesp_ranking(out, doc_ids, probs, labels)
    ranking = read_codiesp_ranking(out)
    codes = [codiesp_code(c) for c in labels]
    gold = {d: [codes[j] for j in np.flatnonzero(targets[i])] for i, d in enumerate(doc_ids)}
    _, map_probs = row_ranking(probs, targets).summary()
    assert trec_map(ranking, gold) == pytest.approx(map_probs, abs=1e-12)
    # Same through clincode.metrics on scores rebuilt from the file's line order.
    index = {c: j for j, c in enumerate(codes)}
    rebuilt = np.zeros((n, v))
    for i, d in enumerate(doc_ids):
        for rank, c in enumerate(ranking[d]):
            rebuilt[i, index[c]] = (v - rank) / v  # a probability in (0, 1], higher = earlier
    assert row_ranking(rebuilt, targets).summary()[1] == pytest.approx(map_probs, abs=1e-12)


def test_hand_computed_trec_map() -> None:
    ranking = {"d1": ["a", "b", "c", "d", "e"], "d2": ["x", "y"], "d3": ["q"]}
    gold = {"d1": ["a", "c", "z"], "d2": ["y"], "d3": [], "d4": ["w"]}
    # d1: hits at ranks 1 and 3 -> (1/1 + 2/3) / 3 gold (z never retrieved) = 5/9
    # d2: hit at rank 2 -> (1/2) / 1 = 1/2; d3: no gold, skipped; d4: not in the run -> 0
    assert trec_map(ranking, gold) == pytest.approx((5 / 9 + 1 / 2 + 0) / 3)
    # The same ranking as scores through clincode.metrics (full ranking: d1 over a..e plus z last).
    probs = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.1]])
    targets = np.array([[1, 0, 1, 0, 0, 1]])
    # a: 1/1, c: 2/3, z at rank 6: 3/6 -> (1 + 2/3 + 1/2) / 3
    assert row_ranking(probs, targets).summary()[1] == pytest.approx((1 + 2 / 3 + 1 / 2) / 3)
