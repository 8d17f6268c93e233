"""Held-out table of the CodiEsp-D runs of benchmarks/codiesp_results.sh (reads runs/textpath/*/metrics.json)."""

import json
import re
import sys
from pathlib import Path

import polars as pl

RUNS = ["cnn", "cnn_40ep", "caml", "bigru", "laat", "marn", "marn_no_multitask", "marn_no_ram", "marn_bce", "caml_desc", "laat_desc", "dr_caml", "prior"]
COLS = ["run", "epochs", "wall", "F1 mi (glob)", "F1 ma (glob)", "F1 ma CAML (glob)", "F1 mi (0.5)", "AUPRC mi", "AUPRC ma"]
COLS += ["AUROC mi", "AUROC ma", "P@5", "P@8", "P@15", "MAP", "MAP all gold"]

root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "runs" / "textpath"
timings = {}
if (root / "timings.txt").is_file():
    for line in (root / "timings.txt").read_text().splitlines():
        match = re.match(r"(\S+) rc=(\d+) wall_s=(\d+)", line)
        if match:
            timings[match.group(1)] = (int(match.group(2)), int(match.group(3)))
print("| " + " | ".join(COLS) + " |")
print("|" + "---|" * len(COLS))
for name in RUNS:
    p = root / name / "metrics.json"
    if not p.is_file():
        continue
    m = json.loads(p.read_text())
    g, r, k = m["rules"]["global"], m["ranking"], m["at_k"]
    log = root / name / "logs" / "metrics.csv"  # the prior (benchmarks/prior_baseline.py) has no training
    ep = str(int(pl.read_csv(log)["epoch"].max()) + 1) if log.is_file() else "-"
    w = timings.get(name, (None, None))[1]
    vals = [g["f1_micro"], g["f1_macro"], g["f1_macro_caml"], m["rules"]["0.5"]["f1_micro"], r["auprc_micro"], r["auprc_macro"]]
    vals += [r["auroc_micro"], r["auroc_macro"], k["p@5"], k["p@8"], k["p@15"], m["map"], m["coding"]["map_all_gold"]]
    print("| " + " | ".join([name, ep, f"{w / 60:.0f} min" if w else "-"] + [f"{v:.3f}" for v in vals]) + " |")
