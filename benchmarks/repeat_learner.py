"""How far a flexible learner over the history entries gets: the repeat table, a gradient-boosted
model on the same entries, and the oracle, on one synthetic cohort's held-out rows.

    python benchmarks/repeat_learner.py COHORT_DIR [--label-level code] [--num-labels 1538]

COHORT_DIR is a cohort written by ``clincode synth ehr`` (``clincode demo`` writes one under its
``--out``). Every (row, label) whose label is already in the row's visible history (a repeat
entry) gets a forecast from scikit-learn's ``HistGradientBoostingClassifier`` fitted on the
training split's repeat entries (its early stopping holds out a share of them; the tuning and
held-out splits are not read in fitting), with three feature sets:

- ``table cells``: count, recency, log(1 + days since the last occurrence) and the label's
  training rates when coded at the last visit / only earlier (what the repeat table conditions on,
  made continuous);
- ``+ span``: plus visits since the label's first occurrence, visits so far, visits without it;
- ``+ co-occurrence``: plus the codes present at every visit that carried the label, the codes of
  its first visit and the share of those seen again at later visits without it, the size of its
  last visit, and age.

Entries never coded for the patient keep the repeat table's forecast, so the micro AUPRC compares
like with like. Prints AUPRC over the repeat entries and micro AUPRC over all entries, beside the
repeat table and the oracle (the cohort's Bayes forecast, which knows which coded conditions are
chronic and active), and the oracle on the repeat entries with the table elsewhere (how much of the
oracle's lead is on repeats).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score

import clincode
from clincode.forecasters import Histories, HistoryEntries
from clincode.forecasters.selection import micro_auprc


def entry_features(h: Histories, e: HistoryEntries) -> np.ndarray:
    """(E, 8): span, co-occurrence and visit features of each repeat entry (module docstring)."""
    labs = [set(h.labels[h.label_offsets[w] : h.label_offsets[w + 1]].tolist()) for w in range(h.visit_time.size)]
    out = np.zeros((len(e), 8), np.float32)
    for i, (r, c) in enumerate(zip(e.row.tolist(), e.label.tolist(), strict=True)):
        v = int(h.rows[r])
        p0 = int(h.visit_offsets[h.row_patient[r]])
        carried = [w for w in range(p0, v + 1) if c in labs[w]]
        always = set.intersection(*(labs[w] for w in carried)) - {c}
        first_codes = labs[carried[0]] - {c}
        without = [w for w in range(carried[0] + 1, v + 1) if c not in labs[w]]
        again = sum(1 for x in first_codes if any(x in labs[w] for w in without))
        out[i] = (v - carried[0], len(always), len(first_codes), again / max(len(first_codes), 1), len(labs[carried[-1]]), v - p0 + 1, len(without), h.age[v])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cohort", type=Path)
    ap.add_argument("--num-labels", type=int, default=1538)
    ap.add_argument("--label-level", default="code")
    args = ap.parse_args()
    t0 = time.perf_counter()
    hs = clincode.load_histories(args.cohort, num_labels=args.num_labels, label_level=args.label_level)
    train, tuning, held = hs["train"], hs["tuning"], hs["held_out"]
    table = clincode.fit_forecaster("repeat_table", train, tuning)
    table_p = table.predict_proba(held)
    oracle_p = clincode.fit_forecaster("oracle", train).predict_proba(held)
    y = held.target_matrix()
    e_tr, e_ho = train.entries(), held.entries()
    y_tr, y_ho = train.next_positive(e_tr), held.next_positive(e_ho)
    v = train.num_labels

    def label_rate(mask: np.ndarray) -> np.ndarray:
        n = np.bincount(e_tr.label[mask], minlength=v)
        k = np.bincount(e_tr.label[mask], weights=y_tr[mask], minlength=v)
        pooled = k.sum() / max(n.sum(), 1)
        return (k + 5 * pooled) / (n + 5)

    last, earlier = label_rate(e_tr.recency == 0), label_rate(e_tr.recency > 0)

    def cells(e: HistoryEntries) -> np.ndarray:
        return np.c_[e.count, e.recency, np.log1p(e.gap_days), last[e.label], earlier[e.label]]

    f_tr, f_ho = entry_features(train, e_tr), entry_features(held, e_ho)
    mixed = table_p.copy()
    mixed[e_ho.row, e_ho.label] = oracle_p[e_ho.row, e_ho.label]
    rows = [
        ("repeat_table", table_p[e_ho.row, e_ho.label], table_p),
        ("oracle (ceiling)", oracle_p[e_ho.row, e_ho.label], oracle_p),
        ("oracle on repeat entries, repeat_table elsewhere", oracle_p[e_ho.row, e_ho.label], mixed),
    ]
    for name, a, b in (
        ("boosted: table cells", cells(e_tr), cells(e_ho)),
        ("boosted: + span", np.c_[cells(e_tr), f_tr[:, [0, 5, 6]]], np.c_[cells(e_ho), f_ho[:, [0, 5, 6]]]),
        ("boosted: + co-occurrence", np.c_[cells(e_tr), f_tr], np.c_[cells(e_ho), f_ho]),
    ):
        model = HistGradientBoostingClassifier(max_iter=300, early_stopping=True, random_state=0).fit(a, y_tr)
        p = model.predict_proba(b)[:, 1].astype(np.float32)
        full = table_p.copy()
        full[e_ho.row, e_ho.label] = p
        rows.append((name, p, full))
    print(f"held-out rows {len(held):,}, repeat entries {len(e_ho):,} (train {len(e_tr):,}); {time.perf_counter() - t0:.0f} s")
    print("| forecaster | AUPRC repeat entries | AUPRC micro |")
    print("|---|---:|---:|")
    for name, rep, full in rows:
        print(f"| {name} | {average_precision_score(y_ho, rep):.4f} | {micro_auprc(full, y):.4f} |")


if __name__ == "__main__":
    main()
