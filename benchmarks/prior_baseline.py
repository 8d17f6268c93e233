"""The frequency-prior reference row of a benchmark: every visit (or document) gets the training prevalence.

    python benchmarks/prior_baseline.py RUN_DIR [--out DIR] [--n-bootstrap 0]

RUN_DIR is any finished run of the benchmark, next-visit or text coding (its config names the data
and the label space; the prepared task cache is reused). The "model" ignores its input: the
probability of code j at every visit (document) is the fraction of training target rows (the same
rows training sees) in which j is positive. Thresholds are tuned on the tuning split and the held-out split is scored
with the same ``evaluate`` call as ``clincode evaluate``, so its metrics.json is comparable
column by column with the runs'. A loss whose micro AUPRC is near this row has learnt the code
frequencies and little of the history.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from torch import Tensor, nn

from clincode.io import write_json, write_text
from clincode.metrics import ThresholdTuner, format_table
from clincode.tasks import task_for
from clincode.train.evaluate import score_predictions
from clincode.train.inference import predict_rows
from clincode.train.runs import load_run


class PrevalenceModel(nn.Module):
    """Logits [B, T, V] (visits) or [B, V] (documents): each code's training log-odds, whatever the input."""

    def __init__(self, prevalence: np.ndarray) -> None:
        super().__init__()
        p = torch.as_tensor(np.clip(prevalence, 1e-7, 1 - 1e-7), dtype=torch.float64)
        self.register_buffer("logit", torch.log(p / (1 - p)).float())

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.logit.expand(*batch["targets"].shape[:-1], -1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="where to write metrics.json / metrics.md (default RUN_DIR/../prior)")
    ap.add_argument("--n-bootstrap", type=int, default=0)
    args = ap.parse_args()
    console = Console(stderr=True)
    _, cfg = load_run(args.run_dir)
    data = task_for(cfg).prepare(cfg, console=console)
    model = PrevalenceModel(task_for(cfg).label_stats(data).prevalence())  # the training rows the loss sees
    tuning = predict_rows(model, task_for(cfg).loader(data, "tuning", cfg, shuffle=False, eval=True), task_for(cfg))
    tuner = ThresholdTuner(min_positives=cfg.eval.threshold_min_positives).fit(tuning.probs, tuning.targets)
    preds = predict_rows(model, task_for(cfg).loader(data, "held_out", cfg, shuffle=False, eval=True), task_for(cfg))
    metrics = score_predictions(preds, data, cfg, tuner, n_bootstrap=args.n_bootstrap)
    metrics["run"] = {"name": "prevalence_prior", "loss": None, "model": "training prevalence", "seed": cfg.seed, "split": "held_out"}
    out = args.out or args.run_dir.parent / "prior"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", metrics)
    table = format_table(metrics)
    write_text(out / "metrics.md", f"# training-prevalence prior: held_out split\n\n{table}\n")
    console.print(table)
    console.print(f"wrote {out / 'metrics.json'}")


if __name__ == "__main__":
    main()
