"""A small CodiEsp-shaped release with D and P codes and evidence offsets, for the CodiEsp-X and explain tests."""

from __future__ import annotations

import random
from pathlib import Path

# code -> (type, evidence phrase)
PHRASES = {
    "n45.1": ("DIAGNOSTICO", "orquitis"),
    "r50.9": ("DIAGNOSTICO", "fiebre alta"),
    "e11.9": ("DIAGNOSTICO", "diabetes mellitus tipo 2"),
    "i10": ("DIAGNOSTICO", "hipertensión arterial"),
    "bw03zzz": ("PROCEDIMIENTO", "radiografía de tórax"),
    "bt41zzz": ("PROCEDIMIENTO", "ecografía renal"),
}
FILLER = ["Paciente de 54 años que acude a urgencias.", "Se decide ingreso en planta.", "Evolución favorable <sin> & cambios."]


def write_release(root: Path, seed: int = 0, n: dict[str, int] | None = None) -> Path:
    """Spanish texts where each gold code's phrase is written once (offsets in ``{split}X.tsv``), D and P files."""
    rng = random.Random(seed)
    codes = sorted(PHRASES)
    for split, count in (n or {"train": 30, "dev": 10, "test": 10}).items():
        for sub in ("text_files", "text_files_en"):
            (root / split / sub).mkdir(parents=True)
        lines: dict[str, list[str]] = {"D": [], "P": [], "X": []}
        for i in range(count):
            doc = f"{split}-{i:03d}"
            text = rng.choice(FILLER)
            for code in rng.sample(codes, 3):
                kind, phrase = PHRASES[code]
                start = len(text) + len(" Presenta ")
                text += f" Presenta {phrase}."
                lines["X"].append(f"{doc}\t{kind}\t{code}\t{phrase}\t{start} {start + len(phrase)}")
                lines["D" if kind == "DIAGNOSTICO" else "P"].append(f"{doc}\t{code}")
            (root / split / "text_files" / f"{doc}.txt").write_text(text, encoding="utf-8")
            (root / split / "text_files_en" / f"{doc}.txt").write_text("Patient seen.", encoding="utf-8")
        for kind, rows in lines.items():
            (root / split / f"{split}{kind}.tsv").write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    return root
