"""``report.md`` + PNGs for a benchmark directory, readable without running anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from clincode.forecasters import FORECASTERS
from clincode.io import read_json, write_text
from clincode.report import plots


def _cell_label(axes: dict[str, Any], skip: tuple[str, ...] = ("seed",)) -> str:
    parts = [f"{v}" if k == "loss.name" else f"{k.split('.')[-1]}={v}" for k, v in axes.items() if k not in skip]
    return ", ".join(parts) or "run"


def _first_runs(bench_root: Path, axes_names: list[str]) -> dict[str, Path]:
    """One finished run directory per cell (the lowest seed), labelled by its non-seed axes.

    Runs are found under ``bench_root/runs`` itself, never through the ``out_dir`` recorded in
    ``benchmark.json``: a copied or moved benchmark reports on its own runs. Each run's axis values
    are read from its ``config.yaml``; cells follow the grid's order.
    """
    import yaml

    from clincode.io import read_text_file

    bench = read_json(bench_root / "benchmark.json", "the benchmark description (benchmark.json)")
    grid: dict[str, list[Any]] = bench.get("grid", {})
    found: list[tuple[tuple[int, ...], str, Path]] = []
    runs_dir = bench_root / "runs"
    for run in sorted(runs_dir.iterdir()) if runs_dir.is_dir() else []:
        if not (run / "metrics.json").is_file() or not (run / "config.yaml").is_file():
            continue
        cfg = yaml.safe_load(read_text_file(run / "config.yaml", "a run config")) or {}
        axes = {name: _lookup(cfg, name) for name in axes_names}
        order = tuple(_position(grid.get(name, []), value) for name, value in axes.items())
        model = _lookup(cfg, "model.name")
        if model in FORECASTERS:  # a reference row (one-pass forecaster): its model is its label, after the grid
            found.append(((10**9, *order), str(model), run))
            continue
        found.append((order, _cell_label(axes), run))
    out: dict[str, Path] = {}
    for _, label, run in sorted(found, key=lambda item: item[0]):
        out.setdefault(label, run)
    return out


def _lookup(cfg: dict[str, Any], dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _position(values: list[Any], value: Any) -> int:
    for i, v in enumerate(values):
        if v == value or str(v) == str(value):
            return i
    return len(values)


def build_report(bench_root: Path) -> Path:
    bench_root = Path(bench_root)
    bench = read_json(bench_root / "benchmark.json", "the benchmark description (benchmark.json)")
    if not isinstance(bench, dict) or not isinstance(bench.get("grid"), dict) or "name" not in bench:
        raise ValueError(f"{bench_root / 'benchmark.json'} lacks 'name' or 'grid'; expected a file written by `clincode benchmark`")
    axes = list(bench["grid"])
    figs = bench_root / "figures"
    runs = _first_runs(bench_root, axes)
    if not runs:
        raise ValueError(f"{bench_root} has no finished run to report on (no runs/*/metrics.json)")

    curves = {}
    tuned_points = {}
    buckets_auprc: dict[str, dict[str, float]] = {}
    buckets_f1: dict[str, dict[str, float]] = {}
    per_code = {}
    for label, run in runs.items():
        m = read_json(run / "metrics.json")
        if (run / "curves.json").is_file():
            curves[label] = read_json(run / "curves.json")["micro"]
        g = m["rules"].get("global", {})
        if g.get("recall_micro") is not None:
            tuned_points[label] = (g["recall_micro"], g["alert_volume"])
        b = m.get("buckets", {})
        buckets_auprc[label] = {k: b[k]["ranking"]["auprc_micro"] for k in ("head", "medium", "tail") if k in b}
        buckets_f1[label] = {
            k: b[k]["rules"].get("global", b[k]["rules"]["0.5"])["f1_micro"] for k in ("head", "medium", "tail") if k in b
        }
        if (run / "per_label.parquet").is_file():
            t = pl.read_parquet(run / "per_label.parquet")
            per_code[label] = (t["train_count"].to_numpy().astype(float), t["mean_bce"].to_numpy())

    made = []
    if curves:
        made.append(("Precision-recall curves (micro, held-out)", plots.pr_curves(curves, figs / "pr_curves.png")))
        made.append(("Alert volume against recall", plots.alert_curves(curves, tuned_points, figs / "alerts_vs_recall.png")))
    made.append(("Micro AUPRC per frequency bucket", plots.bucket_bars(buckets_auprc, "AUPRC micro", figs / "buckets_auprc.png")))
    made.append(("Micro F1 at the tuned threshold per bucket", plots.bucket_bars(buckets_f1, "F1 micro (tuned)", figs / "buckets_f1.png")))
    if per_code:
        made.append(("Per-code loss against code frequency", plots.balance_plot(per_code, figs / "balance.png")))

    summary = (bench_root / "summary.md").read_text() if (bench_root / "summary.md").is_file() else ""
    seeds = bench["grid"].get("seed", [None])
    first = read_json(next(iter(runs.values())) / "metrics.json")
    lines = [
        f"# Benchmark `{bench['name']}`",
        "",
        f"Grid: {', '.join(f'`{k}` in {v}' for k, v in bench['grid'].items())}. "
        f"Held-out split: {first['n_rows']:,} (patient, visit) rows, {first['n_labels']:,} labels.",
        "",
        "## Summary",
        "",
        "Mean ± standard deviation over seeds"
        + (" (one seed: the bracket is that run's 95% bootstrap CI by patient)." if len(seeds) <= 1 else "."),
        "P/R/F1 at 0.5, at one global threshold and at per-label thresholds tuned on the tuning split;",
        "alerts/visit = mean number of predicted positive codes per visit at the tuned global threshold.",
        "",
        summary,
        "",
    ]
    for title, path in made:
        lines += [f"## {title}", "", f"![{title}]({path.relative_to(bench_root)})", ""]
    lines += ["## Runs", ""] + [f"- {label}: `{p}`" for label, p in runs.items()]
    return write_text(bench_root / "report.md", "\n".join(lines) + "\n")
