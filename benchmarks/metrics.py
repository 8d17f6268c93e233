"""Speed of clincode.metrics at the sizes of the Ho et al. setting (V = 1,538 codes).

Synthetic, imbalanced data: label frequencies follow a Zipf-like curve (about 8 positives per
row), probabilities are noisy sigmoids that rank positives higher, 2% of entries are ignored,
about 5 rows per patient.

    .venv/bin/python benchmarks/metrics.py                    # all cases
    .venv/bin/python benchmarks/metrics.py --case tuner-200k   # one case

Cases:
    tuner-200k      ThresholdTuner.fit (exact search) on 200,000 x 1,538
    evaluate-200k   evaluate(..., n_bootstrap=0) with buckets and the three rules on 200,000 x 1,538
    bootstrap-20k   evaluate(..., n_bootstrap=200) on 20,000 x 1,538
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from clincode.metrics import ThresholdTuner, evaluate


def synthetic(n_rows: int, n_labels: int = 1538, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(probs float32 (N, V), targets int8 (N, V), groups (N,), train_counts (V,))``."""
    rng = np.random.default_rng(seed)
    freq = 1.0 / np.arange(1, n_labels + 1) ** 0.9
    freq *= 8.0 / freq.sum()  # ~8 positives per row
    probs = np.empty((n_rows, n_labels), dtype=np.float32)
    targets = np.empty((n_rows, n_labels), dtype=np.int8)
    step = 10_000
    for r0 in range(0, n_rows, step):
        n = min(step, n_rows - r0)
        y = rng.random((n, n_labels), dtype=np.float32) < freq[None, :]
        logit = rng.standard_normal((n, n_labels), dtype=np.float32) + np.log(freq / (1 - freq))[None, :] + 2.5 * y
        probs[r0 : r0 + n] = 1.0 / (1.0 + np.exp(-logit))
        t = y.astype(np.int8)
        t[rng.random((n, n_labels), dtype=np.float32) < 0.02] = -1
        targets[r0 : r0 + n] = t
    groups = np.arange(n_rows) // 5
    train_counts = np.round(freq * 100_000).astype(np.int64)
    return probs, targets, groups, train_counts


def _time(label: str, fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    took = time.perf_counter() - start
    print(f"{label}: {took:.1f} s", flush=True)
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=["tuner-200k", "evaluate-200k", "bootstrap-20k", "all"], default="all")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    if args.case in ("tuner-200k", "evaluate-200k", "all"):
        probs, targets, groups, counts = synthetic(200_000)
        tuner = ThresholdTuner(min_positives=5)
        if args.case in ("tuner-200k", "all"):
            _time("ThresholdTuner.fit 200,000 x 1,538 (exact)", lambda: tuner.fit(probs, targets))
        if args.case in ("evaluate-200k", "all"):
            if not hasattr(tuner, "thresholds_"):
                tuner.fit(probs[:20_000], targets[:20_000])
            _time(
                "evaluate 200,000 x 1,538, 3 rules, buckets, no bootstrap",
                lambda: evaluate(probs, targets, groups=groups, train_counts=counts, thresholds=tuner, n_bootstrap=0),
            )
        del probs, targets
    if args.case in ("bootstrap-20k", "all"):
        probs, targets, groups, counts = synthetic(20_000, seed=1)
        tuner = ThresholdTuner(min_positives=5).fit(probs, targets)
        _time(
            "evaluate 20,000 x 1,538, 3 rules, buckets, 200 bootstrap resamples",
            lambda: evaluate(probs, targets, groups=groups, train_counts=counts, thresholds=tuner, n_bootstrap=200),
        )
        _time(
            "evaluate 20,000 x 1,538, 3 rules, buckets, no bootstrap",
            lambda: evaluate(probs, targets, groups=groups, train_counts=counts, thresholds=tuner, n_bootstrap=0),
        )


if __name__ == "__main__":
    main()
