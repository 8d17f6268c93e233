"""``evaluate``: every metric of docs/methods.md section 5 in one JSON-serialisable dict.

Output structure (``None`` wherever a value is undefined, e.g. a macro average without any
usable label; all numbers are plain Python floats / ints)::

    {
      "n_rows": int,               # rows with at least one non-ignored entry
      "n_rows_dropped": int,       # rows whose entries are all ignored (-1)
      "n_labels": int,             # V
      "ranking": {"auroc_micro", "auroc_macro", "auprc_micro", "auprc_macro",
                  "macro_labels_used", "macro_labels_skipped"},
      "at_k": {"p@5", "r@5", "p@8", "r@8", ..., "rows_with_gold", "rows_without_gold"},
      "map": float,
      "rules": {
        "0.5":       {"threshold": 0.5, "precision_micro", "recall_micro", "f1_micro",
                      "precision_macro", "recall_macro", "f1_macro", "f1_macro_caml",
                      "alert_volume", "macro_labels_used"},
        "global":    {... same keys, "threshold": tuned global threshold},   # with a tuner
        "per_label": {... same keys, "n_fallback_labels"},                    # with a tuner
      },
      "operating_points": {        # fixed alert budget and fixed recall (operating.py) [ours]
        "budget@3":   {"budget", "precision_micro", "recall_micro", "f1_micro", "alert_volume"},
        "recall@0.3": {"target_recall", "threshold", "precision_micro", "recall_micro",
                       "f1_micro", "alert_volume"},   # also recall@0.2, recall@0.4 by default
      },
      "buckets": {                 # with train_counts
        "boundaries": {"kind", "edges", "head": {"n_labels", "train_count_min", "train_count_max"},
                       "medium": {...}, "tail": {...}},
        "head":   {"n_labels", "n_rows", "ranking": {...}, "at_k": {...}, "map", "rules": {...}},
        "medium": {...}, "tail": {...},
      },
      "bootstrap": {"n_resamples", "level", "method", "unit", "n_units", "seed", "skipped",
                    "unreliable", "unreliable_reasons", "excludes_estimate"},   # see metrics.report
      "ci": {"ranking.auroc_micro": [lo, hi], "at_k.p@5": [lo, hi], "map": [lo, hi],
             "rules.global.f1_micro": [lo, hi], ...},   # keys are flatten_metrics keys
    }

Metric definitions live in the modules: ``ranking`` (AUROC / AUPRC), ``at_k`` (P@k, R@k,
MAP), ``decision`` (P / R / F1, alert volume), ``operating`` (alert budget, fixed recall), ``buckets``, ``bootstrap``. A bucket's metrics
are the same metrics computed on its label columns only (rows without a valid entry among them
are dropped for that bucket). Confidence intervals are given for the top-level metrics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from clincode.metrics._inputs import (
    check_groups,
    check_probs_targets,
    check_train_counts,
    row_valid,
)
from clincode.metrics._progress import steps
from clincode.metrics.at_k import RowRanking, _check_ks, _row_ranking
from clincode.metrics.bootstrap import group_index, percentile_interval, replicate_metrics, resample_weights
from clincode.metrics.buckets import BUCKET_NAMES, BucketSpec, assign_buckets
from clincode.metrics.decision import _decision_counts, as_thresholds
from clincode.metrics.operating import check_budgets, check_recalls, operating_points
from clincode.metrics.ranking import _ranking
from clincode.metrics.report import annotate_reliability
from clincode.metrics.thresholds import ThresholdTuner

# Above this many valid entries the AUROC / AUPRC intervals are skipped (their exact bootstrap
# keeps ~16 bytes per valid entry in memory); the other intervals are still computed.
BOOTSTRAP_MAX_ENTRIES = 64_000_000


def evaluate(
    probs: np.ndarray,
    targets: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    train_counts: np.ndarray | None = None,
    thresholds: ThresholdTuner | None = None,
    ks: Sequence[int] = (5, 8, 15),
    buckets: BucketSpec | None = BucketSpec(),
    n_bootstrap: int = 200,
    ci: float = 0.95,
    seed: int = 0,
    progress: bool = False,
    bootstrap_max_entries: int = BOOTSTRAP_MAX_ENTRIES,
    budgets: Sequence[int] = (3,),
    recall_targets: Sequence[float] = (0.2, 0.3, 0.4),
) -> dict[str, Any]:
    """Evaluate probabilities against masked multi-label targets (structure: module docstring).

    Args:
        probs: float ``(N, V)`` probabilities (not logits).
        targets: int ``(N, V)`` in {1, 0, -1}; -1 entries are ignored, all-ignored rows dropped.
        groups: optional int ``(N,)`` patient / document id of each row: the bootstrap unit
            (None: rows are resampled independently).
        train_counts: optional int ``(V,)`` training positives per label: enables ``buckets``.
        thresholds: a fitted :class:`ThresholdTuner` (adds the "global" and "per_label" rules);
            None: only the fixed 0.5 rule.
        ks: cut-offs of P@k / R@k.
        buckets: how to cut head / medium / tail (default: tertiles by training count);
            None: no bucket metrics.
        n_bootstrap: resamples for the confidence intervals (0: none).
        ci: confidence level of the percentile intervals.
        seed: seed of the resampling.
        progress: show a progress bar.
        bootstrap_max_entries: skip the AUROC / AUPRC intervals above this many valid entries.
        budgets: alert budgets B of the ``budget@B`` operating points (top-B labels per row).
        recall_targets: micro recalls r of the ``recall@r`` operating points (the largest global
            threshold reaching r on this split). Operating points are computed over all labels,
            without bootstrap intervals.
    """
    probs, targets = check_probs_targets(probs, targets)
    n, v = probs.shape
    groups = check_groups(groups, n)
    train_counts = check_train_counts(train_counts, v)
    ks = _check_ks(ks)
    budgets, recall_targets = check_budgets(budgets), check_recalls(recall_targets)
    if int(n_bootstrap) != n_bootstrap or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be a non-negative integer; got {n_bootstrap!r}")
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be a confidence level in (0, 1); got {ci!r}")
    rules = _rules(thresholds, v)
    cols = np.arange(v, dtype=np.int64)
    bucket_parts = None
    if train_counts is not None and buckets is not None:
        bucket_parts = assign_buckets(train_counts, buckets)

    n_steps = 1 + (len(BUCKET_NAMES) if bucket_parts is not None else 0) + (1 if n_bootstrap else 0)
    with steps(progress, n_steps, "evaluating") as advance:
        valid = row_valid(targets, cols)
        out: dict[str, Any] = {"n_rows": int(valid.sum()), "n_rows_dropped": int(n - valid.sum()), "n_labels": v}
        fallback = None if thresholds is None else thresholds.fallback_mask_
        core, rows, pp_row = _core(probs, targets, cols, rules, ks, fallback)
        out.update(core)
        out["operating_points"] = operating_points(probs, targets, cols, budgets, recall_targets)
        advance("all labels")
        if bucket_parts is not None:
            assert train_counts is not None  # buckets are made from them
            section: dict[str, Any] = {"boundaries": bucket_parts.describe(train_counts)}
            for name in BUCKET_NAMES:
                b_cols = bucket_parts.cols(name)
                part: dict[str, Any] = {"n_labels": int(b_cols.size)}
                if b_cols.size:
                    part["n_rows"] = int(row_valid(targets, b_cols).sum())
                    sub_rules = {r: thr[b_cols] for r, thr in rules.items()}
                    sub_fallback = None if fallback is None else fallback[b_cols]
                    part.update(_core(probs, targets, b_cols, sub_rules, ks, sub_fallback)[0])
                section[name] = part
                advance(f"bucket {name}")
            out["buckets"] = section
        if n_bootstrap:
            out["bootstrap"], out["ci"] = _bootstrap(
                probs, targets, cols, rows, rules, pp_row, groups, valid, int(n_bootstrap), ci, seed, bootstrap_max_entries
            )
            advance("bootstrap")
    out = _jsonable(out)
    return annotate_reliability(out) if "bootstrap" in out else out


def _rules(tuner: ThresholdTuner | None, n_labels: int) -> dict[str, np.ndarray]:
    rules = {"0.5": as_thresholds(0.5, n_labels)}
    if tuner is not None:
        if not isinstance(tuner, ThresholdTuner):
            raise TypeError(f"thresholds must be a fitted ThresholdTuner or None; got {type(tuner).__name__}")
        if tuner.n_labels != n_labels:
            raise ValueError(f"the ThresholdTuner was fitted on {tuner.n_labels} labels but probs has {n_labels}")
        rules["global"] = as_thresholds(tuner.global_threshold_, n_labels)
        rules["per_label"] = tuner.thresholds_.astype(np.float64)
    return rules


def _core(
    probs: np.ndarray,
    targets: np.ndarray,
    cols: np.ndarray,
    rules: dict[str, np.ndarray],
    ks: tuple[int, ...],
    fallback: np.ndarray | None,
) -> tuple[dict[str, Any], RowRanking, dict[str, np.ndarray]]:
    """ranking, at_k, map and rules over ``cols``; also the per-row data the bootstrap needs."""
    out: dict[str, Any] = {"ranking": _ranking(probs, targets, cols).summary()}
    rows = _row_ranking(probs, targets, ks, cols)
    out["at_k"], out["map"] = rows.summary()
    out["rules"] = {}
    pp_row: dict[str, np.ndarray] = {}
    for name, thr in rules.items():
        counts = _decision_counts(probs, targets, thr, cols)
        section: dict[str, Any] = {}
        if name == "per_label":
            section["n_fallback_labels"] = None if fallback is None else int(fallback.sum())
        else:
            section["threshold"] = float(thr[0]) if thr.size else None
        section.update(counts.summary())
        out["rules"][name] = section
        pp_row[name] = counts.pp_row
    return out, rows, pp_row


def _bootstrap(
    probs: np.ndarray,
    targets: np.ndarray,
    cols: np.ndarray,
    rows: RowRanking,
    rules: dict[str, np.ndarray],
    pp_row: dict[str, np.ndarray],
    groups: np.ndarray | None,
    valid: np.ndarray,
    n_resamples: int,
    level: float,
    seed: int,
    max_entries: int,
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    ids, n_units = group_index(groups, valid)
    meta: dict[str, Any] = {
        "n_resamples": n_resamples,
        "level": level,
        "method": "percentile",
        "unit": "group" if groups is not None else "row",
        "n_units": n_units,
        "seed": seed,
        "skipped": [],
    }
    if n_units < 2:
        meta["skipped"] = ["all: fewer than 2 resampling units"]
        return meta, {}
    n_entries = int(rows.n_valid.sum())
    with_ranking = n_entries <= max_entries
    if not with_ranking:
        meta["skipped"] = [f"ranking: {n_entries} valid entries exceed bootstrap_max_entries={max_entries}"]
    weights = resample_weights(ids, n_units, n_resamples, seed)
    reps = replicate_metrics(probs, targets, cols, rows, rules, pp_row, weights, with_ranking=with_ranking)
    intervals: dict[str, list[float]] = {}
    for path, values in reps.items():
        interval = percentile_interval(values, level)
        if interval is not None:
            intervals[path] = [interval[0], interval[1]]
    return meta, intervals


def _jsonable(obj: Any) -> Any:
    """Plain Python types; NaN / inf become None (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    return obj
