"""Head / medium / tail label buckets by training frequency.

Every metric is also reported on each bucket's labels (docs/methods.md section 5.7). Two ways to cut:

- ``BucketSpec(kind="quantile", edges=(1/3, 2/3))`` (default) [ours]: tertiles of the labels
  ranked by training count. The tail holds the ``ceil(edges[0] * V)`` rarest labels, the head the
  labels above the ``ceil(edges[1] * V)``-th rarest; labels tied in count with a boundary label go
  to the rarer bucket, so a count never straddles two buckets (many never-seen labels all land in
  the tail, which may then hold more than a third).
- ``BucketSpec(kind="count", edges=(m, h))``: fixed training counts, tail ``< m <=`` medium ``< h
  <=`` head (e.g. ``(10, 100)``).

Buckets always partition the labels; a bucket may be empty (its metrics are then null).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

BUCKET_NAMES = ("head", "medium", "tail")


@dataclass(frozen=True)
class BucketSpec:
    """How labels are cut into head / medium / tail by training count (see module docstring)."""

    kind: Literal["quantile", "count"] = "quantile"
    edges: tuple[float, float] = (1 / 3, 2 / 3)

    def __post_init__(self) -> None:
        lo, hi = self.edges
        if self.kind == "quantile":
            if not 0 <= lo <= hi <= 1:
                raise ValueError(f"quantile bucket edges must satisfy 0 <= lo <= hi <= 1; got {self.edges}")
        elif self.kind == "count":
            if not 0 <= lo <= hi:
                raise ValueError(f"count bucket edges must satisfy 0 <= medium_min <= head_min; got {self.edges}")
        else:
            raise ValueError(f"bucket kind must be 'quantile' or 'count'; got {self.kind!r}")


@dataclass(frozen=True)
class Buckets:
    """A partition of the V labels.

    Attributes:
        index: int64 ``(V,)``: 0 head, 1 medium, 2 tail (order of :data:`BUCKET_NAMES`).
        tail_max: largest training count in the tail (-1 if the tail is empty by construction).
        medium_max: largest training count in tail or medium.
        spec: the spec used.
    """

    index: np.ndarray
    tail_max: float
    medium_max: float
    spec: BucketSpec

    def cols(self, name: str) -> np.ndarray:
        """int64 label columns of bucket ``name`` ("head", "medium" or "tail")."""
        return np.flatnonzero(self.index == BUCKET_NAMES.index(name)).astype(np.int64)

    def describe(self, train_counts: np.ndarray) -> dict[str, Any]:
        """The ``buckets.boundaries`` entry: the rule and each bucket's size and count range."""
        out: dict[str, Any] = {"kind": self.spec.kind, "edges": [float(e) for e in self.spec.edges]}
        for name in BUCKET_NAMES:
            c = train_counts[self.cols(name)]
            out[name] = {
                "n_labels": int(c.size),
                "train_count_min": int(c.min()) if c.size else None,
                "train_count_max": int(c.max()) if c.size else None,
            }
        return out


def assign_buckets(train_counts: np.ndarray, spec: BucketSpec = BucketSpec()) -> Buckets:
    """Split labels into head / medium / tail by ``train_counts`` ``(V,)`` (see module docstring)."""
    counts = np.asarray(train_counts, dtype=np.int64)
    if spec.kind == "count":
        medium_min, head_min = spec.edges
        tail_max: float = math.ceil(medium_min) - 1
        medium_max: float = math.ceil(head_min) - 1
    else:
        srt = np.sort(counts)
        v = srt.size

        def count_at(fraction: float) -> float:
            n = math.ceil(round(fraction * v, 9))  # labels in the lower part by rank
            return float(srt[n - 1]) if n > 0 else -1.0

        tail_max = count_at(spec.edges[0])
        medium_max = max(count_at(spec.edges[1]), tail_max)
    index = np.where(counts <= tail_max, 2, np.where(counts <= medium_max, 1, 0)).astype(np.int64)
    return Buckets(index=index, tail_max=float(tail_max), medium_max=float(medium_max), spec=spec)
