"""Run a benchmark grid, resumably, and collect one tidy row per (run, metric)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console

from clincode.bench.grid import BenchmarkConfig, GridRun, expand
from clincode.io import atomic_path, read_json, write_json
from clincode.metrics import flatten_metrics
from clincode.train.runs import run_dir_for


def bench_dir(bench: BenchmarkConfig) -> Path:
    return Path(bench.out_dir) / bench.name


def run_is_done(run: GridRun) -> bool:
    return (run_dir_for(run.config) / "metrics.json").is_file()


def run_benchmark(bench: BenchmarkConfig, *, console: Console | None = None, dry_run: bool = False) -> Path:
    """Train and evaluate every grid cell not yet done; then write results and summary."""
    from clincode.train.fit import train_run

    console = console or Console(stderr=True)
    runs = expand(bench)
    root = bench_dir(bench)
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / "benchmark.json", bench.model_dump(mode="json"))
    todo = [r for r in runs if not run_is_done(r)]
    console.print(f"benchmark {bench.name}: {len(runs)} runs, {len(runs) - len(todo)} already done")
    if dry_run:
        for r in runs:
            console.print(f"  {'done' if run_is_done(r) else 'todo'}  {r.name}")
        return root
    timings: dict[str, float] = {}
    for i, run in enumerate(todo, 1):
        console.rule(f"[{i}/{len(todo)}] {run.name}")
        start = time.perf_counter()
        train_run(run.config, console=console)
        timings[run.name] = time.perf_counter() - start
    results = collect_results(runs)
    with atomic_path(root / "results.parquet") as tmp:
        results.write_parquet(tmp)
    from clincode.bench.summary import summarise, write_summary

    summary = summarise(results, axes=list(bench.grid))
    write_summary(summary, root, axes=list(bench.grid), console=console)
    return root


def collect_results(runs: list[GridRun]) -> pl.DataFrame:
    """Tidy rows: axis columns, run, metric, value, ci_low, ci_high."""
    rows: list[dict[str, Any]] = []
    for run in runs:
        path = run_dir_for(run.config) / "metrics.json"
        if not path.is_file():
            continue
        metrics = read_json(path)
        ci = metrics.get("ci", {})
        for key, value in flatten_metrics(metrics).items():
            lo, hi = ci.get(key, (None, None))
            row = {axis: str(v) for axis, v in run.axes.items()}
            row.update(run=run.name, metric=key, value=float(value), ci_low=lo, ci_high=hi)
            rows.append(row)
    if not rows:
        raise ValueError("no finished runs to collect")
    return pl.DataFrame(rows, infer_schema_length=None)
