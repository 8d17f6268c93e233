"""Where a learned W recovers the generator's couplings: pairs that co-occur in training vs the rest.

    python benchmarks/w_recovery_split.py RUN_DIR

RUN_DIR: a finished run of a loss with a PMI prior (``dependency_log`` / ``dependency_pl``, whose
loss state holds the training PMI on co-occurring pairs) on a synthetic cohort with
``metadata/true_dependency.parquet``. Prints the AUROC of |W| and of |PMI| for separating truly
coupled pairs, over all pairs, over the pairs that co-occur in training, and over those that never
do (where PMI is 0 for every pair); beside the latter, the AUROC of the expected co-occurrence
``n_a n_b`` (a frequency-only score).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from clincode.audit.dependency import true_pair_matrix, upper
from clincode.data.labels import LabelSpace
from clincode.train.runs import load_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    run = parser.parse_args().run_dir
    artefact, cfg = load_run(run)
    loss = artefact.build_loss()
    if not hasattr(loss, "w_prior"):
        raise SystemExit(f"{run}: loss {cfg.loss.name!r} keeps no PMI prior (use a dependency_log / dependency_pl run)")
    w = loss.dependency_matrix().double().numpy()
    prior = loss.w_prior.double().numpy()
    labels = LabelSpace.from_dict(artefact.label_space)
    truth = true_pair_matrix(list(labels.codes_), pl.read_parquet(Path(cfg.data.path) / "metadata" / "true_dependency.parquet"))
    y, abs_w, abs_pmi = upper(truth), np.abs(upper(w)), np.abs(upper(prior))
    co = upper(prior) != 0
    counts = np.asarray(labels.counts_, dtype=np.float64)
    expected = upper(np.outer(counts, counts))

    def auc(score: np.ndarray, keep: np.ndarray) -> str:
        yk = y[keep]
        return f"{roc_auc_score(yk, score[keep]):.3f}" if 0 < yk.sum() < yk.size else "-"

    everything = np.ones_like(co)
    print(f"pairs {y.size:,}: truly coupled {int(y.sum()):,} ({int(y[co].sum()):,} among the {int(co.sum()):,} co-occurring)")
    print(f"all pairs:            AUROC |W| {auc(abs_w, everything)}   |PMI| {auc(abs_pmi, everything)}")
    print(f"co-occurring pairs:   AUROC |W| {auc(abs_w, co)}   |PMI| {auc(abs_pmi, co)}")
    print(f"never co-occurring:   AUROC |W| {auc(abs_w, ~co)}   n_a n_b {auc(expected, ~co)}")


if __name__ == "__main__":
    main()
