"""Training throughput of the EHR Transformer with each loss at V = 1,538.

Measures the full optimisation step (forward, loss, backward, AdamW step over model + loss
parameters) on real batches of a synthetic cohort, all losses interleaved in one run so that the
ratios to `bce` are measured under the same machine load. Prints visits/second and the ratio of
each loss's step time to bce's.

    .venv/bin/python benchmarks/train_throughput.py [--patients 3000] [--steps 30] [--model default|demo]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console

from clincode.config import load_config
from clincode.data.synthetic import generate_ehr_cohort
from clincode.losses import build_loss
from clincode.models import build_model
from clincode.resources import config_path
from clincode.tasks import task_for

LOSSES = ["bce", "weighted_bce", "class_balanced", "focal", "asymmetric", "dependency_aware"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=3000)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model", choices=["default", "demo"], default="default", help="default: configs/next_visit_behrt.yaml (the setting of the figures in docs/benchmarks.md)")
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    console = Console(stderr=True, quiet=True)
    with tempfile.TemporaryDirectory() as tmp:
        cohort = generate_ehr_cohort(Path(tmp) / "c", n_patients=args.patients, n_codes=2000, seed=0, progress=False)
        cfg_name = "next_visit_behrt" if args.model == "default" else "demo"
        cfg = load_config(
            config_path(cfg_name),
            [f"data.path={cohort}", f"out_dir={tmp}/runs", "trainer.progress=false", f"trainer.batch_size={args.batch_size}"],
        )
        data = task_for(cfg).prepare(cfg, console=console)
        stats = task_for(cfg).label_stats(data)
        batches = []
        for b in task_for(cfg).loader(data, "train", cfg, shuffle=True):
            batches.append(b)
            if len(batches) == args.steps:
                break
        visits = sum(int((b["targets"] != -1).any(-1).sum()) for b in batches)
        setups = {}
        for name in LOSSES:
            torch.manual_seed(0)
            model = build_model(cfg.model.name, vocab_size=len(data.vocab), num_labels=data.num_labels, params=cfg.model.params)
            loss = build_loss(name, data.num_labels).fit(stats)
            if hasattr(loss, "validate"):
                loss.validate = False
            opt = torch.optim.AdamW(list(model.parameters()) + list(loss.parameters()), lr=1e-3)
            setups[name] = (model, loss, opt)

        def epoch(name: str) -> float:
            model, loss, opt = setups[name]
            start = time.perf_counter()
            for b in batches:
                value = loss(model(b), b["targets"])
                opt.zero_grad(set_to_none=True)
                value.backward()
                opt.step()
            return time.perf_counter() - start

        for name in LOSSES:  # warm-up
            epoch(name)
        times: dict[str, list[float]] = {n: [] for n in LOSSES}
        for _ in range(args.rounds):
            for name in LOSSES:  # interleaved: every loss sees the same load
                times[name].append(epoch(name))
    med = {n: statistics.median(t) for n, t in times.items()}
    print(
        f"# model={args.model} ({cfg.model.params}), V={data.num_labels}, batch {args.batch_size} patients, "
        f"{args.steps} steps = {visits} target visits per pass, median of {args.rounds} interleaved passes; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
    )
    print("| loss | ms / step | visits / s | step time / bce |")
    print("|---|---:|---:|---:|")
    for name in LOSSES:
        print(f"| {name} | {1000 * med[name] / args.steps:.1f} | {visits / med[name]:.0f} | {med[name] / med['bce']:.2f} |")


if __name__ == "__main__":
    main()
