"""Which next-visit settings buy accuracy per unit of compute: one step at a time from the earlier defaults.

Each row runs ``benchmarks/pyhealth_compare.py --clincode-only`` (same cohort, same samples, same
evaluation) with the overrides of that row on top of the previous rows', from the earlier setting
(``configs/next_visit_behrt.yaml`` with bce: one token per code, history skip, 64 patients per
step, lr 1e-3) to the packaged ``configs/next_visit.yaml``. Rows run one after another on the same
machine; held-out micro AUPRC after each epoch and the training seconds it took are printed as a
table (and written to ``OUT/ablation.md``).

    .venv/bin/python benchmarks/time_to_accuracy_ablation.py --patients 2000 --epochs 4 --out benchmarks-out/tta-ablation
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS: list[tuple[str, list[str]]] = [
    ("earlier setting (next_visit_behrt.yaml, bce)", ["--config", "next_visit_behrt", "--set", "loss.name=bce"]),
    ("+ 16 patients per step", ["--set", "trainer.batch_size=16"]),
    ("+ head bias at the training prevalence", ["--set", "model.params.prior_bias=true"]),
    ("+ one token per visit", ["--set", "model.params.tokens=visit"]),
    ("+ lr 2e-3", ["--set", "optim.lr=0.002"]),
    ("+ no history skip (= next_visit.yaml)", ["--set", "model.params.history_skip=false"]),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--out", default="benchmarks-out/tta-ablation")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cohort = out / f"cohort-{args.patients}-s0"
    if not (cohort / "metadata").exists():
        from clincode.data.synthetic import generate_ehr_cohort

        generate_ehr_cohort(cohort, n_patients=args.patients, n_codes=2000, seed=0, progress=False, overwrite=True)
    lines = [
        f"{args.patients} patients, one run per row, held-out micro AUPRC after each epoch (training seconds so far); "
        f"load average at the start {tuple(round(x, 1) for x in os.getloadavg())}",
        "",
        "| setting | " + " | ".join(f"epoch {e}" for e in range(1, args.epochs + 1)) + " | s / epoch |",
        "|---|" + "---:|" * (args.epochs + 1),
    ]
    overrides: list[str] = []
    for i, (label, extra) in enumerate(STEPS):
        overrides = overrides + extra
        run_dir = out / f"step{i}"
        run_dir.mkdir(exist_ok=True)
        link = run_dir / cohort.name  # the script looks for its cohort there; every row reads the same one
        if not link.exists():
            link.symlink_to(cohort.resolve())
        cmd = [
            sys.executable, str(HERE / "pyhealth_compare.py"), "--clincode-only", "--patients", str(args.patients),
            "--epochs", str(args.epochs), "--chunks-per-epoch", "1", "--patience", str(args.epochs), "--out", str(run_dir),
            "--set", f"out_dir={out / 'work'}", "--set", f"data.path={cohort.resolve()}", *overrides,
        ]  # fmt: skip
        with open(run_dir / "run.log", "w") as log:
            subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
        with open(run_dir / "curves.csv") as f:
            rows = list(csv.DictReader(f))
        cells = [f"{float(r['test_auprc']):.3f} ({float(r['train_seconds']):.0f} s)" for r in rows]
        per_epoch = float(rows[-1]["train_seconds"]) / float(rows[-1]["epoch"])
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {per_epoch:.1f} |")
        print(lines[-1], file=sys.stderr)
    text = "\n".join(lines) + "\n"
    (out / "ablation.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
