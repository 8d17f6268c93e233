"""Benchmark: build the next-visit task from a MEDS directory, then batch it.

Writes a plain random MEDS cohort (numpy, not the realistic generator, so that this measures the
task builder alone), then times ``build_next_visit``, ``NextVisitData.save``, the dataset build and
collating one epoch. Peak RSS is the whole process's (``ru_maxrss``).

    .venv/bin/python benchmarks/next_visit_task.py --patients 200000 --shards 4 [--window-hours 24]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl


def write_cohort(out: Path, n_patients: int, n_codes: int, n_shards: int, seed: int) -> int:
    """Random MEDS cohort: ~10 visits per patient, ~5 diagnosis codes per visit, Zipf code frequency."""
    rng = np.random.default_rng(seed)
    (out / "data").mkdir(parents=True)
    (out / "metadata").mkdir()
    codes = np.array([f"ICD10CM//C{i:05d}" for i in range(n_codes)])
    zipf = 1.0 / np.arange(1, n_codes + 1) ** 1.1
    zipf /= zipf.sum()
    ids = np.arange(n_patients, dtype=np.int64) + 1_000_000
    total = 0
    for shard, chunk in enumerate(np.array_split(ids, n_shards)):
        n = len(chunk)
        visits = rng.geometric(0.1, size=n).clip(1, 200)
        subj_v = np.repeat(chunk, visits)
        birth = rng.integers(-2_000_000_000, 0, size=n)  # epoch seconds, 1906..1970
        gaps = rng.exponential(60 * 86400, size=len(subj_v)).astype(np.int64) + 86400
        start = np.repeat(birth + 20 * 365 * 86400, visits)
        cum = np.cumsum(gaps)
        first = np.repeat(np.concatenate([[0], np.cumsum(visits)[:-1]]), visits)
        t_visit = start + cum - cum[first] + gaps[first]
        per_visit = rng.integers(1, 10, size=len(subj_v))
        subj_e = np.repeat(subj_v, per_visit)
        t_e = np.repeat(t_visit, per_visit)
        code_e = codes[rng.choice(n_codes, size=len(subj_e), p=zipf)]
        frame = pl.concat(
            [
                pl.DataFrame({"subject_id": chunk, "time": None, "code": np.where(rng.random(n) < 0.5, "GENDER//F", "GENDER//M")}),
                pl.DataFrame({"subject_id": chunk, "time": birth * 1_000_000, "code": "MEDS_BIRTH"}),
                pl.DataFrame({"subject_id": subj_e, "time": t_e * 1_000_000, "code": code_e}),
            ],
            how="diagonal_relaxed",
        ).with_columns(
            pl.col("time").cast(pl.Int64).cast(pl.Datetime("us")),
            pl.lit(None, dtype=pl.Float32).alias("numeric_value"),
        ).sort("subject_id", "time", nulls_last=False)
        frame.write_parquet(out / "data" / f"shard_{shard:05d}.parquet")
        total += frame.height
    split = np.where(rng.random(n_patients) < 0.8, "train", np.where(rng.random(n_patients) < 0.5, "tuning", "held_out"))
    pl.DataFrame({"subject_id": ids, "split": split}).write_parquet(out / "metadata" / "subject_splits.parquet")
    return total


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    from clincode.tasks.next_visit.batches import NextVisitDataset, collate_next_visit
    from clincode.tasks.next_visit.build import build_next_visit
    from clincode.tasks.sampler import LengthBucketBatchSampler

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--codes", type=int, default=2000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window-hours", type=float, default=None, help="visit window (default: same timestamp)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_next_visit_"))
    try:
        t = time.perf_counter()
        events = write_cohort(work / "meds", args.patients, args.codes, args.shards, args.seed)
        print(f"cohort: {args.patients} patients, {events} events, written in {time.perf_counter() - t:.1f} s")

        t, cpu0 = time.perf_counter(), cpu_seconds()
        window = None if args.window_hours is None else timedelta(hours=args.window_hours)
        data = build_next_visit(work / "meds", num_labels=1538, visit_window=window, progress=False)
        build_s = time.perf_counter() - t
        visits = sum(data.stats[f"{s}/visits"] for s in data.splits)
        print(
            f"build_next_visit: {build_s:.1f} s wall, {cpu_seconds() - cpu0:.1f} s CPU (user+sys, all threads), "
            f"{visits} visits kept, peak RSS {peak_rss_gb():.2f} GB"
        )

        t = time.perf_counter()
        data.save(work / "task")
        print(f"save: {time.perf_counter() - t:.1f} s")

        t = time.perf_counter()
        ds = NextVisitDataset(data.split("train"))
        print(f"NextVisitDataset(train): {time.perf_counter() - t:.1f} s, {len(ds)} patients")

        sampler = LengthBucketBatchSampler(ds.num_tokens(), args.batch_size, shuffle=True)
        t = time.perf_counter()
        n_batches = 0
        pad = 0.0
        for batch_idx in sampler:
            batch = collate_next_visit([ds[i] for i in batch_idx], data.num_labels)
            pad += 1.0 - batch["token_mask"].float().mean().item()
            n_batches += 1
        epoch_s = time.perf_counter() - t
        print(
            f"one train epoch of collate (batch {args.batch_size}, bucketed): {epoch_s:.1f} s, "
            f"{n_batches / epoch_s:.0f} batches/s, mean padding {pad / n_batches:.1%}, peak RSS {peak_rss_gb():.2f} GB"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
