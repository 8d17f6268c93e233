"""Label sparsity of a prepared next-visit task against real admissions (docs/results.md, 200k section).

    python benchmarks/codes_per_visit.py RUN_DIR [--mimic-iv path/to/mimic-iv-demo-2.2]

Prints the mean number of positive labels per target row of RUN_DIR's tuning split (the rows the
loss sees, from the project's LabelStats) and, given a MIMIC-IV root, the mean and median number
of diagnosis codes per admission in ``hosp/diagnoses_icd``. The dependency-aware loss's batch
weights depend on this ratio: w_pos / w_neg = (N/P)^2 / alpha_neg.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl
from rich.console import Console

from clincode.tasks import task_for
from clincode.train.runs import load_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--mimic-iv", type=Path, default=None, help="a MIMIC-IV root with hosp/diagnoses_icd.csv(.gz)")
    args = ap.parse_args()
    _, cfg = load_run(args.run_dir)
    data = task_for(cfg).prepare(cfg, console=Console(stderr=True))
    stats = task_for(cfg).label_stats(data, "tuning")
    per_row = stats.positives.sum() / stats.n_rows
    print(f"{args.run_dir}: {per_row:.2f} positive labels per target row (tuning split, {stats.n_rows:,} rows, V = {stats.num_labels})")
    if args.mimic_iv is not None:
        files = sorted((args.mimic_iv / "hosp").glob("diagnoses_icd.csv*"))
        if not files:
            raise SystemExit(f"{args.mimic_iv / 'hosp'}: no diagnoses_icd.csv or diagnoses_icd.csv.gz")
        counts = pl.read_csv(files[0]).group_by("hadm_id").len()["len"]
        print(f"{files[0]}: {counts.mean():.1f} diagnosis codes per admission (median {counts.median():.0f}, {counts.len():,} admissions)")


if __name__ == "__main__":
    main()
