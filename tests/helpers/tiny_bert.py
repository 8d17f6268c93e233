"""A tiny randomly initialised BERT (model + fast tokenizer) saved to a directory, for offline tests."""

from __future__ import annotations

from pathlib import Path

WORDS = (
    "patient diabetes mellitus type without complications fracture femur left right pain chest heart failure "
    "hypertension essential primary acute chronic kidney disease fever cough the of with and a an in on"
).split()
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_bert_dir(path: Path, max_positions: int = 64, seed: int = 0) -> Path:
    """Save BertModel(hidden 32, 2 layers, 2 heads) and a word-level WordPiece vocab to ``path``."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    vocab = SPECIAL + WORDS + [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"] + list("abcdefghijklmnopqrstuvwxyz.,")
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions,
    )
    BertModel(config).save_pretrained(path)
    BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True).save_pretrained(path)
    return path


CODE_WORDS = {
    "ICD10CM//E11.9": "diabetes mellitus type",
    "ICD10CM//I10": "hypertension essential primary",
    "ICD10CM//S72.90XA": "fracture femur left",
    "ICD10CM//N18.9": "chronic kidney disease",
    "ICD10CM//R50.9": "fever cough",
}
FILLER = "the patient with a pain in the chest and the heart".split()


def write_notes(path: Path, seed: int = 0) -> Path:
    """A tiny canonical notes table whose words are in the tiny BERT vocabulary; returns the parquet file."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    codes = list(CODE_WORDS)
    rows = []
    for n, split in enumerate(["train"] * 24 + ["tuning"] * 8 + ["held_out"] * 8):
        # frequencies differ a lot so that the labels fall into several segments
        p = np.array([0.5, 0.25, 0.12, 0.08, 0.05])
        chosen = sorted(set(rng.choice(codes, size=int(rng.integers(1, 3)), p=p)))
        words = list(rng.choice(FILLER, size=10))
        for c in chosen:
            words += CODE_WORDS[c].split()
        rng.shuffle(words)
        rows.append({"doc_id": f"d{n:03d}", "subject_id": f"s{n:03d}", "text": " ".join(words), "codes": chosen, "split": split})
    frame = pl.DataFrame(rows, schema={"doc_id": pl.String, "subject_id": pl.String, "text": pl.String, "codes": pl.List(pl.String), "split": pl.String})
    path.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path / "notes.parquet")
    return path / "notes.parquet"
