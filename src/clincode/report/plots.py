"""Matplotlib figures for reports (Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from clincode.io import atomic_path


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    plt.close(fig)
    return path


def pr_curves(curves: dict[str, dict[str, list[float]]], path: Path, title: str = "micro precision-recall (held-out)") -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 5))
    for name, c in curves.items():
        ax.plot(c["recall"], c["precision"], label=name, lw=1.5)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def alert_curves(
    curves: dict[str, dict[str, list[float]]], points: dict[str, tuple[float, float]], path: Path
) -> Path:
    """Alert volume (predicted positives per visit) against recall; dots = each run's tuned rule."""
    fig, ax = plt.subplots(figsize=(6.5, 5))
    for name, c in curves.items():
        line = ax.plot(c["recall"], c["alerts_per_row"], label=name, lw=1.5)[0]
        if name in points:
            r, a = points[name]
            ax.scatter([r], [a], color=line.get_color(), zorder=3, s=30)
    ax.set_xlabel("recall")
    ax.set_ylabel("alerts per visit")
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_title("alert volume against recall (dots: tuned global threshold)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path)


def bucket_bars(values: dict[str, dict[str, float]], metric: str, path: Path) -> Path:
    """Grouped bars: one group per bucket (head / medium / tail), one bar per run."""
    buckets = ["head", "medium", "tail"]
    names = list(values)
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    x = np.arange(len(buckets))
    for i, name in enumerate(names):
        ys = [values[name].get(b, np.nan) for b in buckets]
        ax.bar(x + i * width - 0.4 + width / 2, ys, width, label=name)
    ax.set_xticks(x, buckets)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by label-frequency bucket")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, ncol=2)
    return _save(fig, path)


def balance_plot(per_code: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, ylabel: str = "mean BCE on held-out") -> Path:
    """Per-code loss against training frequency for each run (the MARN paper's balance plot)."""
    fig, ax = plt.subplots(figsize=(6.5, 5))
    for name, (freq, loss) in per_code.items():
        order = np.argsort(freq)
        f, ls = freq[order], loss[order]
        ok = np.isfinite(ls)
        ax.scatter(f[ok], ls[ok], s=4, alpha=0.25)
        # binned median trend per loss, so runs can be compared at a glance
        bins = np.unique(np.quantile(f[ok], np.linspace(0, 1, 11))) if ok.sum() > 10 else np.array([])
        if len(bins) > 2:
            idx = np.clip(np.digitize(f[ok], bins[1:-1]), 0, len(bins) - 2)
            med = [np.median(ls[ok][idx == k]) if (idx == k).any() else np.nan for k in range(len(bins) - 1)]
            ax.plot(np.sqrt(bins[:-1] * bins[1:]), med, lw=2, label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training count of the code")
    ax.set_ylabel(ylabel)
    ax.set_title("per-code loss against code frequency")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path)


def heatmap(matrix: np.ndarray, labels: list[str], path: Path, title: str, group_edges: list[int] | None = None) -> Path:
    n = matrix.shape[0]
    fig, ax = plt.subplots(figsize=(8, 7))
    lim = float(np.nanmax(np.abs(matrix))) or 1.0
    im = ax.imshow(matrix, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.8)
    if n <= 60:
        ax.set_xticks(range(n), labels, rotation=90, fontsize=5)
        ax.set_yticks(range(n), labels, fontsize=5)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    for e in group_edges or []:
        ax.axhline(e - 0.5, color="k", lw=0.4)
        ax.axvline(e - 0.5, color="k", lw=0.4)
    ax.set_title(title)
    return _save(fig, path)
