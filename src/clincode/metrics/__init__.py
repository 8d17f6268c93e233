"""Multi-label evaluation (docs/methods.md section 5): plain numpy, exact, masked.

Inputs everywhere: ``probs`` float ``(N, V)`` probabilities and ``targets`` ``(N, V)`` in
{1, 0, -1} (-1 ignored; all-ignored rows dropped).

- :func:`evaluate` -> JSON-serialisable dict of every metric (structure in ``evaluate.py``);
- :class:`ThresholdTuner` global / per-label F1-optimal thresholds fitted on the tuning split;
- :func:`flatten_metrics`, :func:`format_table`, :func:`write_metrics` for reports;
- building blocks: :func:`ranking_metrics` (AUROC / AUPRC per label and micro),
  :func:`row_ranking` (P@k, R@k, MAP per row), :func:`decision_counts` (P / R / F1 counts),
  :func:`assign_buckets` / :class:`BucketSpec` (head / medium / tail).
"""

from clincode.metrics._inputs import MetricsInputError
from clincode.metrics.at_k import RowRanking, row_ranking
from clincode.metrics.buckets import BUCKET_NAMES, Buckets, BucketSpec, assign_buckets
from clincode.metrics.decision import DecisionCounts, decision_counts, prf
from clincode.metrics.evaluate import evaluate
from clincode.metrics.ranking import RankingResult, ranking_metrics
from clincode.metrics.report import flatten_metrics, format_table, write_metrics
from clincode.metrics.thresholds import ThresholdTuner

__all__ = [
    "BUCKET_NAMES",
    "BucketSpec",
    "Buckets",
    "DecisionCounts",
    "MetricsInputError",
    "RankingResult",
    "RowRanking",
    "ThresholdTuner",
    "assign_buckets",
    "decision_counts",
    "evaluate",
    "flatten_metrics",
    "format_table",
    "prf",
    "ranking_metrics",
    "row_ranking",
    "write_metrics",
]
