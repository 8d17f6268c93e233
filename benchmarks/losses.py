"""Speed of every registered loss: milliseconds per forward + backward on the CPU.

For V in {1538, 10000} and R (rows) in {1024, 4096}, prints per loss the time of one training
step of the loss alone (forward + backward, logits with requires_grad, the loss's own parameters
included), its ratio to ``bce``, and for the dense dependency-aware loss the ratio to the
two-GEMM floor measured in the same run: the time of ``v @ W`` plus ``v^T @ v`` with v [R, V] and
W [V, V], the two (R x V x V) products any exact implementation needs per step. The row
``dependency_aware[lowrank r=..]`` is the structured mode [ours] (``mode="lowrank"``).

Data: float32 logits ~ N(0, 2^2); int8 targets with Zipf-like label frequencies (about 8 positives
per row, as in next-visit forecasting) and 2% ignored entries. Validation is off (the hot path).
SH losses are fitted on the batch's own LabelStats (their default dataset statistics). Timing is
best of ``--repeats`` after one warm-up step, all losses and the floor run round-robin so that
they see the same load (the machine is shared).

    .venv/bin/python benchmarks/losses.py                        # full grid
    .venv/bin/python benchmarks/losses.py --V 1538 --R 4096      # one cell
    .venv/bin/python benchmarks/losses.py --losses bce dependency_aware --repeats 5
    THP_MEM_ALLOC_ENABLE=1 .venv/bin/python benchmarks/losses.py   # huge pages for big tensors
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import numpy as np
import torch

from clincode.losses import LOSSES, LabelStats, build_loss

LOWRANK = "dependency_aware[lowrank]"
FLOOR = "(two-GEMM floor)"


def synthetic(rows: int, num_labels: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """logits float32 [R, V] and int8 targets [R, V] in {1, 0, -1}."""
    rng = np.random.default_rng(seed)
    freq = 1.0 / np.arange(1, num_labels + 1) ** 0.9
    freq *= 8.0 / freq.sum()
    y = rng.random((rows, num_labels), dtype=np.float32) < freq[None, :]
    t = y.astype(np.int8)
    t[rng.random((rows, num_labels), dtype=np.float32) < 0.02] = -1
    logits = 2.0 * rng.standard_normal((rows, num_labels), dtype=np.float32)
    return torch.from_numpy(logits), torch.from_numpy(t)


def step_fn(loss: torch.nn.Module, logits: torch.Tensor, targets: torch.Tensor) -> Callable[[], None]:
    x = logits.clone().requires_grad_(True)

    def step() -> None:
        x.grad = None
        for p in loss.parameters():
            p.grad = None
        loss(x, targets).backward()

    return step


def build(name: str, num_labels: int, targets: torch.Tensor, rank: int) -> torch.nn.Module:
    if name == LOWRANK:
        loss = build_loss("dependency_aware", num_labels, mode="lowrank", rank=rank)
    else:
        loss = build_loss(name, num_labels)
    if name in ("sh", "sh_focal"):
        loss.fit(LabelStats.from_targets([targets]))
    loss.validate = False
    return loss


def floor_fn(rows: int, num_labels: int) -> Callable[[], None]:
    """The two (R x V x V) products an exact dense step cannot avoid: v @ W and v^T @ v."""
    g = torch.Generator().manual_seed(0)
    v = torch.rand(rows, num_labels, generator=g)
    w = torch.rand(num_labels, num_labels, generator=g)

    def floor() -> None:
        _ = v @ w
        _ = v.mT @ v

    return floor


def best_interleaved(steps: dict[str, Callable[[], None]], repeats: dict[str, int]) -> dict[str, float]:
    """Best time (ms) of each step over its repeats, running the steps round-robin after a warm-up
    so that all of them see the same (shared-machine) load.
    """
    best = {name: float("inf") for name in steps}
    for step in steps.values():
        step()
    for i in range(max(repeats.values())):
        for name, step in steps.items():
            if i < repeats[name]:
                start = time.perf_counter()
                step()
                best[name] = min(best[name], time.perf_counter() - start)
    return {name: 1000.0 * value for name, value in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--V", type=int, nargs="+", default=[1538, 10000])
    parser.add_argument("--R", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--losses", nargs="+", default=None, help=f"subset of: {', '.join(LOSSES.names())}, {LOWRANK}")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dense-repeats-large", type=int, default=2, help="repeats for dense W when V > 5000")
    parser.add_argument("--rank", type=int, default=32, help="rank of the low-rank W (the default of the loss)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.losses or [*LOSSES.names(), LOWRANK]
    if "bce" not in names:
        names = ["bce", *names]

    machine = platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {machine}, Python {platform.python_version()}")
    print("| V | R | loss | ms / step | x bce | x two-GEMM floor |")
    print("|---:|---:|---|---:|---:|---:|")
    for num_labels in args.V:
        for rows in args.R:
            logits, targets = synthetic(rows, num_labels)
            steps = {name: step_fn(build(name, num_labels, targets, args.rank), logits, targets) for name in names}
            repeats = {name: args.repeats for name in names}
            if "dependency_aware" in names:
                steps[FLOOR] = floor_fn(rows, num_labels)
                repeats[FLOOR] = repeats["dependency_aware"] = (
                    args.dense_repeats_large if num_labels > 5000 else args.repeats
                )
            times = best_interleaved(steps, repeats)
            for name in [*names, FLOOR] if FLOOR in times else names:
                label = f"{LOWRANK[:-1]} r={args.rank}]" if name == LOWRANK else name
                ratio = times[name] / times["bce"]
                vs_floor = f"{times[name] / times[FLOOR]:.2f}" if name in ("dependency_aware", FLOOR) else ""
                print(f"| {num_labels} | {rows} | {label} | {times[name]:.1f} | {ratio:.2f} | {vs_floor} |", flush=True)


if __name__ == "__main__":
    main()
