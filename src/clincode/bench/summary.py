"""Summaries over seeds: mean and spread per grid cell, as JSON and a markdown table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

from clincode.io import write_json, write_text

# The headline columns of the summary table, in order (flattened metric keys).
HEADLINE = [
    ("rules.0.5.precision_micro", "P@0.5"),
    ("rules.0.5.recall_micro", "R@0.5"),
    ("rules.0.5.f1_micro", "F1@0.5"),
    ("rules.0.5.alert_volume", "alerts/visit@0.5"),
    ("rules.global.precision_micro", "P@tuned"),
    ("rules.global.recall_micro", "R@tuned"),
    ("rules.global.f1_micro", "F1@tuned"),
    ("rules.per_label.f1_micro", "F1@per-label"),
    ("ranking.auprc_micro", "AUPRC micro"),
    ("ranking.auprc_macro", "AUPRC macro"),
    ("ranking.auroc_micro", "AUROC micro"),
    ("at_k.p@5", "P@5"),
    ("repeat_explore.repeat.auprc_micro", "AUPRC repeat"),
    ("repeat_explore.explore.auprc_micro", "AUPRC explore"),
    ("repeat_explore.repeat.p@5", "P@5 repeat"),
    ("repeat_explore.explore.p@5", "P@5 explore"),
    ("repeat_explore.repeat.positive_share", "repeat share"),
    ("rules.global.alert_volume", "alerts/visit (tuned)"),
    ("operating_points.budget@3.precision_micro", "P@budget3"),
    ("operating_points.budget@3.recall_micro", "R@budget3"),
    ("operating_points.budget@3.alert_volume", "alerts/visit@budget3"),
    ("operating_points.recall@0.2.precision_micro", "P@R0.2"),
    ("operating_points.recall@0.2.alert_volume", "alerts/visit@R0.2"),
    ("operating_points.recall@0.3.precision_micro", "P@R0.3"),
    ("operating_points.recall@0.3.alert_volume", "alerts/visit@R0.3"),
    ("operating_points.recall@0.4.precision_micro", "P@R0.4"),
    ("operating_points.recall@0.4.alert_volume", "alerts/visit@R0.4"),
]


def summarise(results: pl.DataFrame, axes: list[str]) -> pl.DataFrame:
    """Mean, standard deviation and count over seeds for every (cell, metric)."""
    group = [a for a in axes if a != "seed" and a in results.columns] + ["metric"]
    return (
        results.group_by(group, maintain_order=True)
        .agg(
            pl.col("value").mean().alias("mean"),
            pl.col("value").std(ddof=1).alias("std"),
            pl.len().alias("n_seeds"),
            pl.col("ci_low").mean().alias("ci_low"),
            pl.col("ci_high").mean().alias("ci_high"),
        )
        .sort(group)
    )


def _cells(summary: pl.DataFrame, keys: list[str]) -> list[tuple[tuple[Any, ...], dict[str, dict[str, Any]]]]:
    """Each grid cell (values of the non-seed axes) with its summary rows by metric."""
    cells = summary.select(keys).unique(maintain_order=True).rows() if keys else [()]
    out = []
    for cell in cells:
        sub = summary
        for k, v in zip(keys, cell, strict=True):
            sub = sub.filter(pl.col(k) == v)
        out.append((cell, {r["metric"]: r for r in sub.iter_rows(named=True)}))
    return out


def _cell(mean: float | None, std: float | None, lo: float | None, hi: float | None) -> str:
    if mean is None:
        return "-"
    text = f"{mean:.4f}" if abs(mean) < 10 else f"{mean:.2f}"
    if std is not None and std == std:  # not NaN (single seed gives null/NaN)
        text += f" ± {std:.4f}"
    elif lo is not None and hi is not None:
        text += f" [{lo:.3f}, {hi:.3f}]"
    return text


def summary_table(summary: pl.DataFrame, axes: list[str], metrics: list[tuple[str, str]] | None = None) -> str:
    """Markdown table: one row per cell (non-seed axes), headline metrics as columns.

    A cell shows mean ± std over seeds; with one seed, the bootstrap CI of that run instead.
    """
    metrics = metrics or HEADLINE
    keys = [a for a in axes if a != "seed" and a in summary.columns]
    header = keys + [label for _, label in metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for cell, by_metric in _cells(summary, keys):
        vals = []
        for key, _ in metrics:
            r = by_metric.get(key)
            vals.append(_cell(r["mean"], r["std"], r["ci_low"], r["ci_high"]) if r else "-")
        lines.append("| " + " | ".join([str(c) for c in cell] + vals) + " |")
    return "\n".join(lines)


# The terminal table keeps the columns that tell the story of the Ho et al. comparison.
TERMINAL = [
    ("rules.global.precision_micro", "P"),
    ("rules.global.recall_micro", "R"),
    ("rules.global.f1_micro", "F1"),
    ("rules.global.alert_volume", "alerts"),
    ("ranking.auprc_micro", "AUPRC µ"),
    ("ranking.auprc_macro", "AUPRC M"),
    ("ranking.auroc_micro", "AUROC µ"),
    ("at_k.p@5", "P@5"),
    ("repeat_explore.repeat.auprc_micro", "AUPRC rep"),
    ("repeat_explore.explore.auprc_micro", "AUPRC exp"),
    ("operating_points.budget@3.precision_micro", "P@B3"),
    ("operating_points.recall@0.3.alert_volume", "alerts@R.3"),
]


TERMINAL_TITLE = "held-out metrics (P/R/F1/alerts at the tuned global threshold; µ micro, M macro)"


def terminal_rows(
    summary: pl.DataFrame, axes: list[str], metrics: list[tuple[str, str]] | None = None
) -> tuple[list[str], list[list[str]], int]:
    """Header, rows and the number of leading key columns of the terminal summary."""
    metrics = metrics or TERMINAL
    keys = [a for a in axes if a != "seed" and a in summary.columns]
    header = [{"loss.name": "loss", "model.name": "model"}.get(k, k.split(".")[-1]) for k in keys] + [label for _, label in metrics]
    rows = []
    for cell, by_metric in _cells(summary, keys):
        vals = []
        for key, _ in metrics:
            r = by_metric.get(key)
            if r is None or r["mean"] is None:
                vals.append("-")
                continue
            text = f"{r['mean']:.3f}" if abs(r["mean"]) < 10 else f"{r['mean']:.1f}"
            if r["std"] is not None and r["std"] == r["std"]:
                text += f"±{r['std']:.3f}"
            vals.append(text)
        rows.append([str(c) for c in cell] + vals)
    return header, rows, len(keys)


def rich_summary(summary: pl.DataFrame, axes: list[str], metrics: list[tuple[str, str]] | None = None) -> Table:
    """The summary as a terminal table: mean over seeds (± std when there are several).

    P, R, F1 and alerts/visit are at the global threshold tuned on the tuning split. No cell is
    ever truncated (``no_wrap``, ``overflow="ignore"``): :func:`print_summary` falls back to plain
    text when the table does not fit.
    """
    from rich import box

    header, rows, n_keys = terminal_rows(summary, axes, metrics)
    table = Table(title=TERMINAL_TITLE, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for i, name in enumerate(header):
        table.add_column(
            name, style="bold" if i < n_keys else None, justify="left" if i < n_keys else "right",
            no_wrap=True, overflow="ignore", min_width=len(name),
        )  # fmt: skip
    for row in rows:
        table.add_row(*row)
    return table


def plain_summary(summary: pl.DataFrame, axes: list[str], metrics: list[tuple[str, str]] | None = None) -> str:
    """The terminal summary as aligned plain text (for pipes, files and narrow terminals)."""
    header, rows, n_keys = terminal_rows(summary, axes, metrics)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < n_keys else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([TERMINAL_TITLE, line(header), rule] + [line(r) for r in rows])


def print_summary(summary: pl.DataFrame, axes: list[str], console: Console) -> None:
    """The rich table on a terminal wide enough for it, else plain aligned text (never truncated)."""
    table = rich_summary(summary, axes)
    if console.is_terminal and console.measure(table).maximum <= console.width:
        console.print(table)
    else:
        console.print(plain_summary(summary, axes), markup=False, highlight=False, soft_wrap=True)


def write_summary(summary: pl.DataFrame, root: Path, axes: list[str], console: Console | None = None) -> str:
    table = summary_table(summary, axes)
    write_text(root / "summary.md", table + "\n")
    payload: list[dict[str, Any]] = summary.to_dicts()
    write_json(root / "summary.json", payload)
    if console is not None:
        print_summary(summary, axes, console)
    return table
