"""Turning ``evaluate``'s dict into tidy keys, a readable table and a file on disk."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from clincode.metrics.buckets import BUCKET_NAMES
from clincode.metrics.repeat_explore import format_repeat_explore

# Sections that describe the evaluation rather than measure the model.
_NOT_METRICS = frozenset({"ci", "bootstrap", "run", "boundaries"})


def flatten_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Numeric leaves as ``{"rules.global.f1_micro": 0.41, ...}`` (None becomes NaN).

    Skips the descriptive sections ``ci``, ``bootstrap``, ``run`` and ``buckets.boundaries``,
    and any string / boolean / list leaf. The keys are those of ``metrics["ci"]``.
    """
    out: dict[str, float] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            if key in _NOT_METRICS:
                continue
            path = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(value, path + ".")
            elif value is None:
                out[path] = math.nan
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                out[path] = float(value)

    walk(metrics, "")
    return out


# Fewer resampling units (patients, documents) than this make a bootstrap interval unreliable.
MIN_RELIABLE_UNITS = 30


def interval_reliability(metrics: dict[str, Any], min_units: int = MIN_RELIABLE_UNITS) -> dict[str, Any]:
    """Whether the bootstrap intervals of ``metrics`` can be trusted, and why not.

    Percentile intervals are unreliable on few resampling units, and a macro average whose label
    set changes between resamples can even give an interval that excludes its own point estimate.

    Returns:
        ``{"unreliable": bool, "reasons": [...], "excludes_estimate": [metric keys]}``.
    """
    boot = metrics.get("bootstrap") or {}
    ci = metrics.get("ci") or {}
    flat = flatten_metrics(metrics)
    outside = sorted(
        key
        for key, bounds in ci.items()
        if bounds and key in flat and not math.isnan(flat[key]) and None not in bounds[:2]
        and not (bounds[0] - 1e-12 <= flat[key] <= bounds[1] + 1e-12)
    )  # fmt: skip
    reasons = []
    units = boot.get("n_units")
    if ci and isinstance(units, int) and units < min_units:
        reasons.append(f"only {units} resampling units ({boot.get('unit', 'unit')}s); at least {min_units} are needed")
    if outside:
        reasons.append(f"{len(outside)} interval(s) exclude their point estimate")
    return {"unreliable": bool(reasons), "reasons": reasons, "excludes_estimate": outside}


def annotate_reliability(metrics: dict[str, Any]) -> dict[str, Any]:
    """Add :func:`interval_reliability`'s verdict to ``metrics["bootstrap"]`` (in place; returns ``metrics``)."""
    if isinstance(metrics.get("bootstrap"), dict):
        verdict = interval_reliability(metrics)
        metrics["bootstrap"]["unreliable"] = verdict["unreliable"]
        metrics["bootstrap"]["unreliable_reasons"] = verdict["reasons"]
        metrics["bootstrap"]["excludes_estimate"] = verdict["excludes_estimate"]
    return metrics


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x)
    return f"{x:.{digits}f}"


def _ci(metrics: dict[str, Any], path: str) -> str:
    interval = metrics.get("ci", {}).get(path)
    if not interval:
        return ""
    mark = "*" if path in interval_reliability(metrics)["excludes_estimate"] else ""
    return f"[{_fmt(interval[0])}, {_fmt(interval[1])}]{mark}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


_RULE_COLUMNS = [
    ("precision_micro", "P micro"),
    ("recall_micro", "R micro"),
    ("f1_micro", "F1 micro"),
    ("f1_macro", "F1 macro"),
    ("f1_macro_caml", "F1 macro (CAML)"),
    ("alert_volume", "alerts/row"),
]


def format_table(metrics: dict[str, Any]) -> str:
    """Markdown tables of the main metrics (with intervals), the decision rules and the buckets."""
    level = metrics.get("bootstrap", {}).get("level")
    ci_head = f"{round(100 * level)}% CI" if level else "CI"
    rank = metrics.get("ranking", {})
    at_k = metrics.get("at_k", {})
    main: list[list[str]] = []
    for key, label in [
        ("auroc_micro", "AUROC micro"),
        ("auroc_macro", "AUROC macro"),
        ("auprc_micro", "AUPRC micro"),
        ("auprc_macro", "AUPRC macro"),
    ]:
        main.append([label, _fmt(rank.get(key)), _ci(metrics, f"ranking.{key}")])
    for key, value in at_k.items():
        if "@" in key:
            main.append([key.upper(), _fmt(value), _ci(metrics, f"at_k.{key}")])
    main.append(["MAP", _fmt(metrics.get("map")), _ci(metrics, "map")])
    parts = [
        f"rows: {metrics.get('n_rows')} (dropped {metrics.get('n_rows_dropped')}), labels: {metrics.get('n_labels')}, "
        f"macro over {rank.get('macro_labels_used')} labels ({rank.get('macro_labels_skipped')} without both classes)",
        "",
        _table(["metric", "value", ci_head], main),
    ]
    verdict = interval_reliability(metrics)
    if verdict["unreliable"]:
        parts += [
            "",
            "**Unreliable intervals**: " + "; ".join(verdict["reasons"])
            + (" (marked *)" if verdict["excludes_estimate"] else "") + ".",
        ]  # fmt: skip
    rules = metrics.get("rules", {})
    if rules:
        rows = []
        for name, sec in rules.items():
            thr = sec.get("threshold")
            thr_s = _fmt(thr) if thr is not None else f"per label ({sec.get('n_fallback_labels')} fallback)"
            cells = [name, thr_s]
            for key, _ in _RULE_COLUMNS:
                ci = _ci(metrics, f"rules.{name}.{key}")
                cells.append(_fmt(sec.get(key)) + (f" {ci}" if ci else ""))
            rows.append(cells)
        parts += ["", _table(["rule", "threshold"] + [label for _, label in _RULE_COLUMNS], rows)]
    points = metrics.get("operating_points")
    if points:
        rows = []
        for name, sec in points.items():
            thr = sec.get("threshold")
            rule = f"top {sec['budget']} per row" if "budget" in sec else f"threshold {_fmt(thr)}"
            keys = ("precision_micro", "recall_micro", "f1_micro", "alert_volume")
            rows.append([name, rule] + [_fmt(sec.get(k)) for k in keys])
        parts += ["", _table(["operating point", "rule", "P micro", "R micro", "F1 micro", "alerts / row"], rows)]
    kinds = metrics.get("repeat_explore")
    if kinds:
        header, rows = format_repeat_explore(kinds, _fmt)
        parts += ["", _table(header, rows)]
    buckets = metrics.get("buckets")
    if buckets:
        first_k = next((k for k in at_k if k.startswith("p@")), None)
        header = ["bucket", "labels", "train count", "AUROC macro", "AUPRC macro", "AUPRC micro"]
        header += [f"F1 micro ({r})" for r in rules] + ([first_k.upper()] if first_k else [])
        rows = []
        bounds = buckets.get("boundaries", {})
        for name in BUCKET_NAMES:
            sec = buckets.get(name, {})
            b = bounds.get(name, {})
            span = f"{b.get('train_count_min')}-{b.get('train_count_max')}" if b.get("n_labels") else "-"
            r = sec.get("ranking", {})
            cells = [name, str(sec.get("n_labels", 0)), span]
            cells += [_fmt(r.get("auroc_macro")), _fmt(r.get("auprc_macro")), _fmt(r.get("auprc_micro"))]
            cells += [_fmt(sec.get("rules", {}).get(rule, {}).get("f1_micro")) for rule in rules]
            if first_k:
                cells.append(_fmt(sec.get("at_k", {}).get(first_k)))
            rows.append(cells)
        parts += ["", _table(header, rows)]
    return "\n".join(parts)


def write_metrics(metrics: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``metrics`` as strict JSON (no NaN) atomically: temp file beside ``path``, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metrics = annotate_reliability(metrics)
    text = json.dumps(metrics, indent=2, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
