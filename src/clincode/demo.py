"""``clincode demo``: synthetic cohort -> one EHR Transformer per loss -> evaluation -> report.

The main job: the loss benchmark of Ho et al.'s setting (next-visit forecasting, V = 1,538) on a
small synthetic cohort, ending with the comparison table in the terminal and a report on disk.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from clincode.bench.grid import DEFAULT_LOSSES, BenchmarkConfig
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


def train_label_codes(cohort: Path) -> int:
    """Distinct label codes (the LabelSpace's default prefixes) in the training split: an upper bound for V."""
    import polars as pl

    from clincode.data.labels import DEFAULT_CODE_PREFIXES

    splits = pl.scan_parquet(cohort / "metadata" / "subject_splits.parquet").filter(pl.col("split") == "train")
    events = pl.scan_parquet(str(cohort / "data" / "**" / "*.parquet")).select("subject_id", "code")
    codes = events.join(splits, on="subject_id").filter(
        pl.any_horizontal([pl.col("code").str.starts_with(p) for p in DEFAULT_CODE_PREFIXES])
    )
    return int(codes.select(pl.col("code").n_unique()).collect().item())


def demo_benchmark(
    out_dir: Path, cohort: Path, *, epochs: int, losses: list[str], seed: int, num_labels: int
) -> BenchmarkConfig:
    return BenchmarkConfig(
        name=f"demo-e{epochs}-s{seed}",
        out_dir=out_dir,
        base=config_path("demo"),
        set=[f"data.path={cohort}", f"trainer.max_epochs={epochs}", f"data.num_labels={num_labels}"],
        grid={"loss.name": list(losses), "seed": [seed]},
    )


def run_demo(
    out_dir: Path,
    *,
    patients: int,
    epochs: int,
    losses: list[str] | None = None,
    seed: int,
    num_labels: int = 1538,
    console: Console,
) -> Path:
    from clincode.bench.runner import run_benchmark
    from clincode.losses import LOSSES
    from clincode.report.benchmark import build_report

    losses = losses or list(DEFAULT_LOSSES)
    for name in losses:
        LOSSES.get(name)  # fail on a misspelt loss before generating anything
    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cohort = ensure_cohort(out_dir / f"cohort-{patients}-seed{seed}", patients=patients, seed=seed, console=console)
    seen = train_label_codes(cohort)
    if seen < num_labels:
        console.print(f"[yellow]the cohort's training split has {seen} distinct codes: using V = {seen} labels, not {num_labels}[/yellow]")
        num_labels = seen
    bench = demo_benchmark(out_dir, cohort, epochs=epochs, losses=losses, seed=seed, num_labels=num_labels)
    root = run_benchmark(bench, console=console)
    report = build_report(root)
    console.print(f"\nreport: {report}\n({time.perf_counter() - start:.0f} s in all)")
    return report
