"""The label space: which codes are prediction targets, and in which column order.

Fitted on the training split only (scikit-learn style): the ``num_labels`` most frequent labels,
frequency being the number of training visits that contain the label (a visit counts once however
many of its codes map to that label). V = 1,538 by default, as in Ho et al. (CHIL 2026).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from clincode.data.errors import DataError
from clincode.data.label_levels import LEVELS, label_mapper

DEFAULT_NUM_LABELS = 1538
DEFAULT_CODE_PREFIXES: tuple[str, ...] = ("ICD10CM//", "ICD9CM//")


class LabelSpace:
    """Top-V label codes of the training split at a chosen level ("code", "category", "ccs").

    Args:
        num_labels: V, the number of label columns; None keeps every label seen in training.
        level: granularity of a label, see :mod:`clincode.data.label_levels`.
        code_prefixes: only codes with one of these prefixes are label codes (diagnoses); other
            events (procedures, labs, demographics) are inputs only.

    Fitted attributes:
        codes_: list[str], label of each column, most frequent first, ties broken by label string.
        counts_: np.ndarray int64 (V,), training visits containing each label (train_counts for
            frequency-bucketed metrics and dataset-level loss statistics).
        index_: dict[str, int], label -> column.
        n_visits_: number of training visits the counts were taken over (None if unknown).
    """

    def __init__(
        self,
        num_labels: int | None = DEFAULT_NUM_LABELS,
        level: str = "code",
        code_prefixes: tuple[str, ...] = DEFAULT_CODE_PREFIXES,
    ) -> None:
        if level not in LEVELS:
            raise ValueError(f"label level {level!r} is unknown; expected one of {list(LEVELS)}.")
        if num_labels is not None and num_labels < 1:
            raise ValueError(f"num_labels must be a positive integer or None, got {num_labels}.")
        if not code_prefixes:
            raise ValueError("code_prefixes must name at least one code prefix (e.g. 'ICD10CM//').")
        self.num_labels = num_labels
        self.level = level
        self.code_prefixes = tuple(code_prefixes)
        self._mapper: Callable[[str], str | None] | None = None

    # -- mapping ------------------------------------------------------------------------------
    def label_of(self, code: str) -> str | None:
        """Label of one raw code at this space's level, or None if the code is not a label code."""
        if self._mapper is None:
            self._mapper = label_mapper(self.level, self.code_prefixes)
        return self._mapper(code)

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, data: Mapping[str, int] | Iterable[Iterable[str]]) -> LabelSpace:
        """Fit on training data given as raw codes.

        Args:
            data: either the codes of each training visit (an iterable of code collections), or a
                mapping raw code -> number of training visits containing it. With a mapping at a
                coarser level, codes of one group are summed, which over-counts visits holding two
                codes of the group; pass visit code lists (or use :meth:`fit_label_counts`) for
                exact visit counts.
        """
        counts: Counter[str] = Counter()
        n_visits: int | None
        if isinstance(data, Mapping):
            n_visits = None
            for code, n in data.items():
                label = self.label_of(code)
                if label is not None:
                    counts[label] += int(n)
        else:
            n_visits = 0
            for visit in data:
                n_visits += 1
                labels = {self.label_of(code) for code in visit}
                labels.discard(None)
                counts.update(labels)  # type: ignore[arg-type]  # None discarded above
        return self.fit_label_counts(counts, n_visits=n_visits)

    def fit_label_counts(self, label_counts: Mapping[str, int], n_visits: int | None = None) -> LabelSpace:
        """Fit from counts already at this level: label -> number of training visits containing it."""
        seen = [(label, int(n)) for label, n in label_counts.items() if int(n) > 0]
        if not seen:
            visits = "" if n_visits is None else f" in its {n_visits} kept visit(s)"
            hint = (
                " (no training visit was kept: e.g. every training patient has a single visit, and a "
                "next-visit target needs at least two)"
                if n_visits == 0
                else ""
            )
            raise DataError(
                f"the training split has no label codes{visits} (prefixes {list(self.code_prefixes)}, "
                f"level {self.level!r}){hint}; labels are fitted on training visits."
            )
        if self.num_labels is not None and self.num_labels > len(seen):
            raise DataError(
                f"num_labels={self.num_labels} is larger than the {len(seen)} distinct {self.level}-level "
                f"labels seen in the training split (prefixes {list(self.code_prefixes)}); "
                f"choose num_labels <= {len(seen)}."
            )
        seen.sort(key=lambda item: (-item[1], item[0]))
        kept = seen if self.num_labels is None else seen[: self.num_labels]
        self.codes_ = [label for label, _ in kept]
        self.counts_ = np.asarray([n for _, n in kept], dtype=np.int64)
        self.index_ = {label: i for i, label in enumerate(self.codes_)}
        self.n_visits_ = n_visits
        return self

    # -- use ----------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "codes_"):
            raise RuntimeError("this LabelSpace is not fitted yet; call fit() first.")

    def __len__(self) -> int:
        self._check_fitted()
        return len(self.codes_)

    def transform(self, codes: Iterable[str]) -> list[int]:
        """Sorted distinct label columns of raw ``codes``; codes outside the space are dropped."""
        self._check_fitted()
        ids = set()
        for code in codes:
            label = self.label_of(code)
            if label is not None:
                column = self.index_.get(label)
                if column is not None:
                    ids.add(column)
        return sorted(ids)

    def multi_hot(self, codes: Iterable[str]) -> np.ndarray:
        """Targets of one visit as a (V,) int8 vector of 0/1."""
        out = np.zeros(len(self), dtype=np.int8)
        out[self.transform(codes)] = 1
        return out

    def descriptions(self) -> list[str]:
        """Human-readable text per label column, via ``clincode.codes.describe`` when available."""
        self._check_fitted()
        try:
            from clincode.codes import describe
        except ImportError:
            return list(self.codes_)
        out = []
        for label in self.codes_:
            try:
                text = describe(label)
            except (KeyError, ValueError, NotImplementedError):
                text = ""
            out.append(text or label)
        return out

    def extended(self, codes: Iterable[str]) -> LabelSpace:
        """A copy with ``codes`` (those not yet labels) appended as columns, in order, with count 0.

        For models that rank codes never seen in training (e.g. a coder's hierarchy back-off): the
        training columns keep their positions.
        """
        self._check_fitted()
        extra = [c for c in dict.fromkeys(codes) if c not in self.index_]
        space = LabelSpace.from_dict(self.to_dict())
        space.codes_ = list(self.codes_) + extra
        space.counts_ = np.concatenate([self.counts_, np.zeros(len(extra), dtype=np.int64)])
        space.index_ = {label: i for i, label in enumerate(space.codes_)}
        space.num_labels = None if self.num_labels is None else len(space.codes_)
        return space

    # -- persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (saved with each run so label columns stay aligned with checkpoints)."""
        self._check_fitted()
        return {
            "kind": "LabelSpace",
            "version": 1,
            "num_labels": self.num_labels,
            "level": self.level,
            "code_prefixes": list(self.code_prefixes),
            "codes": list(self.codes_),
            "counts": [int(n) for n in self.counts_],
            "n_visits": self.n_visits_,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> LabelSpace:
        """Inverse of :meth:`to_dict`."""
        if state.get("kind") != "LabelSpace":
            raise ValueError(f"state has kind {state.get('kind')!r}, expected 'LabelSpace'.")
        codes = list(state["codes"])
        counts = list(state["counts"])
        if len(codes) != len(counts):
            raise ValueError(f"LabelSpace state has {len(codes)} codes but {len(counts)} counts; expected equal.")
        space = cls(state["num_labels"], state["level"], tuple(state["code_prefixes"]))
        space.codes_ = codes
        space.counts_ = np.asarray(counts, dtype=np.int64)
        space.index_ = {label: i for i, label in enumerate(codes)}
        space.n_visits_ = state.get("n_visits")
        return space

    def __repr__(self) -> str:
        fitted = f", fitted V={len(self.codes_)}" if hasattr(self, "codes_") else ""
        return f"LabelSpace(num_labels={self.num_labels}, level={self.level!r}{fitted})"
