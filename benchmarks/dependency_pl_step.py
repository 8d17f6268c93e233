"""Time of one dependency_pl loss step (forward + backward): the W shift as one embedding_bag over
the positives against the dense ``y @ W`` product it replaces, interleaved in one process.

    .venv/bin/python benchmarks/dependency_pl_step.py                   # demo-sized: 1,000 rows, V = 1,538
    .venv/bin/python benchmarks/dependency_pl_step.py --rows 2000 --positives 16
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from clincode.losses import build_loss, dependency_ours


def dense_sum(y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return y @ w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1000, help="(patient, visit) rows per step")
    ap.add_argument("--labels", type=int, default=1538)
    ap.add_argument("--positives", type=float, default=4.3, help="mean positive labels per row")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    y = (torch.rand(args.rows, args.labels, generator=g) < args.positives / args.labels).to(torch.int8)
    x = torch.randn(args.rows, args.labels, generator=g, requires_grad=True)
    loss = build_loss("dependency_pl", args.labels, init="zeros", prior_reg=1.0)
    bag = dependency_ours.positive_rows_sum

    def step() -> float:
        start = time.perf_counter()
        value = loss(x, y)
        value.backward()
        x.grad = None
        loss.w_raw.grad = None
        return time.perf_counter() - start

    times: dict[str, list[float]] = {"embedding_bag": [], "dense": []}
    for _ in range(3):
        step()
    for _ in range(args.repeats):
        for name, fn in (("embedding_bag", bag), ("dense", dense_sum)):
            dependency_ours.positive_rows_sum = fn
            times[name].append(step())
    dependency_ours.positive_rows_sum = bag
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    load = os.getloadavg()[0]
    print(f"rows {args.rows}, V {args.labels}, {args.positives} positives per row, {torch.get_num_threads()} threads, load {load:.1f}")
    for k, v in med.items():
        print(f"  {k:>13}: {v:8.1f} ms per step (median of {args.repeats})")
    print(f"  ratio embedding_bag / dense: {med['embedding_bag'] / med['dense']:.3f}")


if __name__ == "__main__":
    main()
