"""Where the history's lead over the repeat baselines lies, on one synthetic cohort's held-out rows.

    python benchmarks/history_bound.py COHORT_DIR [--num-labels 1538]

COHORT_DIR is a cohort written by ``clincode synth ehr`` (``clincode demo`` writes one under its
``--out``). The next-visit task is built with the defaults of ``configs/demo.yaml`` (code-level
labels, V = ``--num-labels``); ``repeat_table`` and ``group_table`` are fitted on the training
split (settings on tuning), and the two Bayes forecasts of the cohort, ``history_bayes`` (from the
history alone) and ``oracle`` (from the latent state), are computed for the same held-out rows
(a trained run's figures on these rows are in its ``metrics.json``). Prints micro AUPRC over all entries and over five kinds of
entries, with each kind's share of the positives:

- new codes (never coded for the patient: explore);
- repeats of codes that two chronic processes share (the generator's processes overlap);
- repeats of the other chronic codes;
- repeats of acute-only codes (no chronic process emits them).

The gap columns give how much of the table-to-oracle distance each row covers.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from clincode.data.synthetic.history_bayes import HistoryBayes
from clincode.forecasters.baselines import GroupTableForecaster, RepeatTableForecaster
from clincode.forecasters.selection import micro_auprc
from clincode.tasks.next_visit.build import build_next_visit
from clincode.tasks.next_visit.task import next_visit_histories


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cohort", type=Path)
    ap.add_argument("--num-labels", type=int, default=1538)
    args = ap.parse_args()

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data = build_next_visit(args.cohort, num_labels=args.num_labels, progress=False, out_dir=Path(tmp) / "task")
        train, tuning, held = (next_visit_histories(data, s, source=args.cohort) for s in ("train", "tuning", "held_out"))
        y = held.target_matrix()
        codes = list(held.label_codes)
        bayes = HistoryBayes.from_cohort(args.cohort)
        subject, time_t = held.subject_id[held.row_patient], held.visit_time[held.rows]
        forecasts = {
            "oracle": bayes.oracle.probabilities(subject, time_t, codes),
            "history_bayes": bayes.probabilities(subject, time_t, codes),
            "repeat_table": RepeatTableForecaster().fit(train, tuning).predict_proba(held),
            "group_table": GroupTableForecaster().fit(train, tuning).predict_proba(held),
        }

    entries = held.entries()
    repeat = np.zeros(y.shape, dtype=bool)
    repeat[entries.row, entries.label] = True
    oracle = bayes.oracle
    owners = np.bincount(oracle._member_code, minlength=len(oracle.model.universe))[oracle.code_ids(codes)]
    kinds = {
        "new codes": ~repeat,
        "repeat, shared chronic": repeat & (owners > 1)[None, :],
        "repeat, other chronic": repeat & (owners == 1)[None, :],
        "repeat, acute only": repeat & (owners == 0)[None, :],
    }
    positives = max(int(y.sum()), 1)
    print(f"{args.cohort}: {len(held):,} held-out rows, V = {held.num_labels}, {positives:,} positives")
    header = ["forecaster", "AUPRC µ", "gap covered"] + [f"{k} ({(y & m).sum() / positives:.0%})" for k, m in kinds.items()]
    print(" | ".join(header))
    low, high = micro_auprc(forecasts["repeat_table"], y), micro_auprc(forecasts["oracle"], y)
    for name, p in forecasts.items():
        overall = micro_auprc(p, y)
        cells = [f"{micro_auprc(np.where(m, p, 0.0), np.where(m, y, 0)):.4f}" for m in kinds.values()]
        print(" | ".join([name, f"{overall:.4f}", f"{(overall - low) / max(high - low, 1e-12):.0%}", *cells]))
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
