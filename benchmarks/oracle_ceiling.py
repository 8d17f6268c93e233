"""The Bayes forecast (oracle) of synthetic cohorts against the training prevalence, micro AUPRC.

    python benchmarks/oracle_ceiling.py --out DIR [--patients 5000] [--codes 2000] [--seed 0]
        [--progression none clinical]

For each progression mode, writes a cohort to ``DIR/cohort-<mode>`` (reused when it exists with
the same parameters), builds every next-visit row (patient, visit t -> code set of visit t+1) from
the events, and scores the held-out rows with two forecasts: ``CohortOracle`` (the ceiling of
next-visit prediction on the cohort) and each code's share of positive training rows. Labels are
the codes positive in at least one training row. Writes ``DIR/oracle_ceiling.json`` and prints a
table; nothing is written outside ``DIR``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score

from clincode.data.synthetic import generate_ehr_cohort
from clincode.data.synthetic.oracle import CohortOracle


def next_visit_rows(root: Path) -> pl.DataFrame:
    """subject_id, time (epoch s of visit t), split, next_codes (code list of visit t+1)."""
    files = sorted((root / "data").glob("*.parquet"))
    ev = pl.concat([pl.read_parquet(f, columns=["subject_id", "time", "code"]) for f in files])
    ev = ev.filter(pl.col("code").str.starts_with("ICD10CM//"))
    splits = pl.read_parquet(root / "metadata" / "subject_splits.parquet")
    return (
        ev.group_by("subject_id", "time").agg(pl.col("code")).sort("subject_id", "time")
        .with_columns(next_codes=pl.col("code").shift(-1).over("subject_id"))
        .filter(pl.col("next_codes").is_not_null())
        .with_columns(time=pl.col("time").dt.epoch("s"))
        .join(splits.select("subject_id", "split"), on="subject_id", how="left")
        .select("subject_id", "time", "split", "next_codes")
    )  # fmt: skip


def multi_hot(codes: list[list[str]], index: dict[str, int]) -> np.ndarray:
    y = np.zeros((len(codes), len(index)), dtype=bool)
    for i, row in enumerate(codes):
        cols = [index[c] for c in row if c in index]
        y[i, cols] = True
    return y


def score(root: Path) -> dict[str, float | int]:
    rows = next_visit_rows(root)
    train, held = rows.filter(pl.col("split") == "train"), rows.filter(pl.col("split") == "held_out")
    labels = sorted({c for s in train["next_codes"].to_list() for c in s})
    index = {c: i for i, c in enumerate(labels)}
    prevalence = multi_hot(train["next_codes"].to_list(), index).mean(axis=0)
    y = multi_hot(held["next_codes"].to_list(), index)
    start = time.perf_counter()
    p = CohortOracle.from_cohort(root).probabilities(held["subject_id"].to_numpy(), held["time"].to_numpy(), labels)
    seconds = time.perf_counter() - start
    prior = np.broadcast_to(prevalence, y.shape)
    return {
        "train_rows": train.height,
        "held_out_rows": held.height,
        "labels": len(labels),
        "oracle_micro_auprc": float(average_precision_score(y.ravel(), p.ravel())),
        "prevalence_micro_auprc": float(average_precision_score(y.ravel(), prior.ravel())),
        "oracle_seconds": round(seconds, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--patients", type=int, default=5000)
    ap.add_argument("--codes", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--progression", nargs="+", default=["none", "clinical"])
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for mode in args.progression:
        root = args.out / f"cohort-{mode}"
        wanted = {"n_patients": args.patients, "n_codes": args.codes, "seed": args.seed, "progression": mode}
        info = root / "metadata" / "dataset.json"
        have = json.loads(info.read_text())["parameters"] if info.is_file() else {}
        if any(have.get(k) != v for k, v in wanted.items()):
            generate_ehr_cohort(root, n_patients=args.patients, n_codes=args.codes, seed=args.seed,
                                progression=mode, overwrite=True, progress=False)  # fmt: skip
        results[mode] = {**wanted, **score(root)}
        r = results[mode]
        print(f"{mode:>9}: oracle {r['oracle_micro_auprc']:.4f}  prevalence {r['prevalence_micro_auprc']:.4f}  "
              f"({r['held_out_rows']} held-out rows x {r['labels']} labels)")  # fmt: skip
    (args.out / "oracle_ceiling.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
