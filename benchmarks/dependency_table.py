"""Mean ± std over seeds of every loss's ranking and operating points, from the runs under a directory.

Reads every ``metrics.json`` under RUNS (one run per loss and seed, e.g. a ``clincode benchmark``
grid's ``runs/``) and prints a markdown table: micro AUPRC, P@5, precision / recall / alerts per
visit at the tuned global threshold, at a fixed budget of 3 alerts per visit and at fixed micro
recall 0.3 (docs/methods.md section 5.5), and the seeds each row averages. Runs with an audit
(``clincode audit RUN`` -> ``RUN/audit/audit.json``) add the recovery AUROC of |W| for the
generator's true couplings and, beside it, |PMI|'s on the same cohort. Rows are named by the loss
and the options its config sets (``detach``, ``center``, ``mu=0.1``; false flags left out).

    .venv/bin/python benchmarks/dependency_table.py benchmarks-out/dep-demo/dependency_demo/runs
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import yaml

COLUMNS: list[tuple[str, tuple[str, ...]]] = [
    ("AUPRC µ", ("ranking", "auprc_micro")),
    ("P@5", ("at_k", "p@5")),
    ("P tuned", ("rules", "global", "precision_micro")),
    ("R tuned", ("rules", "global", "recall_micro")),
    ("alerts tuned", ("rules", "global", "alert_volume")),
    ("P budget 3", ("operating_points", "budget@3", "precision_micro")),
    ("R budget 3", ("operating_points", "budget@3", "recall_micro")),
    ("P at R 0.3", ("operating_points", "recall@0.3", "precision_micro")),
    ("alerts at R 0.3", ("operating_points", "recall@0.3", "alert_volume")),
]


def value(metrics: dict, path: tuple[str, ...]) -> float:
    for key in path:
        metrics = metrics[key]
    return float(metrics)  # type: ignore[arg-type]


def cell(values: list[float]) -> str:
    fmt = (lambda x: f"{x:.3f}") if max(abs(v) for v in values) < 10 else (lambda x: f"{x:.1f}")
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.mean(values))} ± {fmt(statistics.stdev(values))}"


RECOVERY: list[tuple[str, str]] = [("abs(W) AUROC", "auroc_abs_w"), ("abs(PMI) AUROC", "auroc_baseline")]


def row_name(run_dir: Path, loss: str) -> str:
    cfg_path = run_dir / "config.yaml"
    params = {}
    if cfg_path.exists():
        params = ((yaml.safe_load(cfg_path.read_text()) or {}).get("loss") or {}).get("params") or {}
    flags = [k if v is True else f"{k}={v}" for k, v in sorted(params.items()) if v is not False]
    return loss + (f" ({', '.join(flags)})" if flags else "")


def table(runs: Path) -> str:
    by_loss: dict[str, dict[int, dict]] = {}
    audits: dict[str, list[dict]] = {}
    for path in sorted(runs.rglob("metrics.json")):
        if path.parent.name == "audit":
            continue
        metrics = json.loads(path.read_text())
        name = row_name(path.parent, metrics["run"]["loss"])
        seed = int(path.parent.name.split("seed=")[1].split("__")[0]) if "seed=" in path.parent.name else 0
        by_loss.setdefault(name, {})[seed] = metrics
        audit = path.parent / "audit" / "audit.json"
        if audit.exists():
            recovery = json.loads(audit.read_text()).get("true_structure_recovery")
            if recovery:
                audits.setdefault(name, []).append(recovery)
    with_w = bool(audits)
    header = [c for c, _ in COLUMNS] + ([c for c, _ in RECOVERY] if with_w else [])
    lines = ["| loss | seeds | " + " | ".join(header) + " |", "|---|---|" + "---:|" * len(header)]
    for name in sorted(by_loss):
        seeds = by_loss[name]
        cells = [cell([value(m, p) for m in seeds.values()]) for _, p in COLUMNS]
        if with_w:
            found = audits.get(name, [])
            cells += [cell([float(r[key]) for r in found]) if found else "" for _, key in RECOVERY]
        lines.append(f"| {name} | {','.join(map(str, sorted(seeds)))} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", type=Path)
    args = ap.parse_args()
    print(table(args.runs))


if __name__ == "__main__":
    main()
