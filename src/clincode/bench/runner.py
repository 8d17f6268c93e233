"""Run a benchmark grid, resumably, and collect one tidy row per (run, metric)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
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


def run_benchmark(
    bench: BenchmarkConfig, *, console: Console | None = None, dry_run: bool = False, verbose: bool = False,
    table_console: Console | None = None,
) -> Path:
    """Train and evaluate every grid cell not yet done; then write results and summary.

    Progress goes to ``console`` (stderr by default), the summary table to ``table_console`` (default
    ``console``; the CLI gives stdout, so ``clincode demo > out.txt`` keeps the table).

    Without ``verbose`` each run prints one progress line; everything it would print (Lightning's
    banners, progress bars and model summary, the run's metric tables) goes to
    ``BENCH_DIR/logs/RUN.log``.
    """
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
        start = time.perf_counter()
        if verbose:
            console.rule(f"[{i}/{len(todo)}] {run.name}")
            train_run(run.config, console=console)
        else:
            log = root / "logs" / f"{run.name}.log"
            console.print(f"[{i}/{len(todo)}] {run.name} ...", highlight=False, soft_wrap=True)
            try:
                with quiet_output(log) as log_console:
                    train_run(run.config, console=log_console, quiet=True)
            except BaseException:
                console.print(f"      {run.name} failed; its output is in {log}", highlight=False, soft_wrap=True)
                raise
            console.print(f"      done in {time.perf_counter() - start:.0f} s (log: {log})", highlight=False, soft_wrap=True)
        timings[run.name] = time.perf_counter() - start
    results = collect_results(runs)
    with atomic_path(root / "results.parquet") as tmp:
        results.write_parquet(tmp)
    from clincode.bench.summary import summarise, write_summary

    summary = summarise(results, axes=bench.axes())
    write_summary(summary, root, axes=bench.axes(), console=table_console or console)
    return root


LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric")


@contextmanager
def quiet_output(log: Path) -> Iterator[Console]:
    """Send a run's terminal output to ``log``: stdout, stderr, warnings and Lightning's loggers.

    Yields a Console writing to the log (for ``train_run(console=...)``).
    """
    import contextlib
    import logging

    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as fh:
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(name)s %(levelname)s: %(message)s"))
        saved = []
        for name in LIGHTNING_LOGGERS:
            logger = logging.getLogger(name)
            saved.append((logger, list(logger.handlers), logger.propagate))
            logger.handlers = [handler]
            logger.propagate = False
        try:
            with contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
                yield Console(file=fh, width=120, force_terminal=False, color_system=None)
        finally:
            for logger, handlers, propagate in saved:
                logger.handlers = handlers
                logger.propagate = propagate


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
            row: dict[str, Any] = {axis: str(v) for axis, v in run.axes.items()}
            row.update(run=run.name, metric=key, value=float(value), ci_low=lo, ci_high=hi)
            rows.append(row)
    if not rows:
        raise ValueError("no finished runs to collect")
    return pl.DataFrame(rows, infer_schema_length=None)
