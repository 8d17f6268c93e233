"""``clincode demo``: synthetic cohort -> EHR Transformer -> evaluation, end to end."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from clincode.config import load_config
from clincode.io import read_json
from clincode.resources import config_path

DEMO_CODES = 2000  # code universe of the demo cohort; the label space keeps the top 1538


def ensure_cohort(path: Path, *, patients: int, seed: int, console: Console) -> Path:
    """Generate the demo cohort unless an identical one is already there."""
    from clincode.data.synthetic import generate_ehr_cohort

    meta = path / "metadata" / "dataset.json"
    if meta.is_file():
        params = read_json(meta).get("parameters", {})
        if params.get("n_patients") == patients and params.get("seed") == seed and params.get("n_codes") == DEMO_CODES:
            console.print(f"using existing cohort {path}")
            return path
    console.print(f"generating a synthetic cohort of {patients:,} patients in {path}")
    return generate_ehr_cohort(path, n_patients=patients, n_codes=DEMO_CODES, seed=seed, overwrite=True, progress=True)


def run_demo(out_dir: Path, *, patients: int, epochs: int, loss: str, seed: int, console: Console) -> Path:
    from clincode.train.fit import train_run

    start = time.perf_counter()
    out_dir = Path(out_dir)
    cohort = ensure_cohort(out_dir / f"cohort-{patients}-seed{seed}", patients=patients, seed=seed, console=console)
    cfg = load_config(
        config_path("demo"),
        [
            f"data.path={cohort}",
            f"out_dir={out_dir / 'runs'}",
            f"name=demo-{loss}-{patients}-e{epochs}-s{seed}",
            f"trainer.max_epochs={epochs}",
            f"loss.name={loss}",
            f"seed={seed}",
        ],
    )
    run_dir = train_run(cfg, console=console)
    console.print(f"\nrun directory: {run_dir}  ({time.perf_counter() - start:.0f} s in all)")
    return run_dir
