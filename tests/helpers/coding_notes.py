"""A tiny synthetic notes table for the text-coding path (deterministic, a few dozen documents).

Each code has keywords that appear in the text of the documents carrying it, so a model can learn
something in one or two epochs. Planted facts the tests check:

- ``ICD10CM//R51`` (headache) occurs only in held-out documents: never a label;
- the word ``zebrafish`` occurs only in held-out documents: UNK there;
- ``ICD10PCS//0DTJ4ZZ`` (a procedure) has no CCS category.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

CODES = {
    "ICD10CM//E11.9": "diabetes glucose insulin metformin",
    "ICD10CM//I10": "hypertension pressure amlodipine",
    "ICD10CM//J45.909": "asthma wheezing inhaler",
    "ICD10CM//N39.0": "urinary infection dysuria",
    "ICD10CM//K35.80": "appendix abdominal tenderness",
    "ICD10PCS//0DTJ4ZZ": "appendectomy laparoscopic",
}
HELD_OUT_ONLY_CODE = "ICD10CM//R51"
HELD_OUT_ONLY_WORD = "zebrafish"
FILLER = "the patient was seen in clinic and reported symptoms over several days with follow up".split()
SPLITS = {"train": 24, "tuning": 8, "held_out": 8}


def notes_frame(seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    codes = list(CODES)
    rows = []
    n = 0
    for split, count in SPLITS.items():
        for _ in range(count):
            chosen = list(rng.choice(codes[:5], size=int(rng.integers(1, 3)), replace=False))
            if "ICD10CM//K35.80" in chosen:
                chosen.append("ICD10PCS//0DTJ4ZZ")
            words = list(rng.choice(FILLER, size=12))
            for c in chosen:
                words += CODES[c].split()
            if split == "held_out" and n % 2 == 0:
                chosen.append(HELD_OUT_ONLY_CODE)
                words += ["headache", HELD_OUT_ONLY_WORD]
            rng.shuffle(words)
            rows.append(
                {"doc_id": f"d{n:03d}", "subject_id": f"s{n // 2:03d}", "text": " ".join(words) + " 42", "codes": chosen, "split": split}
            )
            n += 1
    return pl.DataFrame(rows, schema={"doc_id": pl.String, "subject_id": pl.String, "text": pl.String, "codes": pl.List(pl.String), "split": pl.String})


def write_notes(directory: Path) -> Path:
    """``directory/notes.parquet`` (the canonical notes table); returns the file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "notes.parquet"
    notes_frame().write_parquet(path)
    return path


def tiny_overrides(notes: Path, out_dir: Path, **extra: object) -> list[str]:
    """Overrides of configs/codiesp_marn.yaml for a seconds-long run on the tiny table."""
    base: dict[str, object] = {
        "data.path": str(notes),
        "out_dir": str(out_dir),
        "name": "tiny_marn",
        "data.params.min_df": 2,
        "data.params.embed_dim": 8,
        "data.params.w2v_epochs": 2,
        "model.params": "{embed_dim: 8, hidden_size: 8, embed_dropout: 0.0, ram_dropout: 0.0, freeze_embeddings: true}",
        "trainer.max_epochs": 2,
        "trainer.batch_size": 8,
        "trainer.progress": False,
        "trainer.monitor": "val/auprc_micro",
        "eval.n_bootstrap": 5,
        "optim.lr": 0.01,
    }
    base.update(extra)
    return [f"{k}={v}" for k, v in base.items()]
