"""`clincode segments`: the frequency segments of a dataset's training labels (Ray et al. 2023).

The Segmenter (:class:`clincode.labels.Segmenter`, docs/methods.md section 3.1) is fitted on the label
counts the training path would use:

- a notes dataset (a CodiEsp root, or a canonical notes table file): the documents of the
  ``train`` split, a label counted once per document, the label space fitted as in training
  (top ``num_labels`` codes, or all codes seen in train);
- a MEDS cohort (directory with ``metadata/subject_splits.parquet``): next-visit labels, counted
  per training row exactly as the SH loss sees them (the ``next_visit`` task's ``label_stats``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clincode.labels import Segmenter


@dataclass(frozen=True)
class SegmentRow:
    """One segment: its labels' training-frequency range and spread (std is the population std)."""

    segment: int
    num_labels: int
    freq_min: int
    freq_max: int
    std: float

    @property
    def std_over_min(self) -> float:
        """std / min, the quantity the rule bounds by eta (inf for a zero-frequency segment > 1 label)."""
        if self.freq_min == 0:
            return 0.0 if self.std == 0 else float("inf")
        return self.std / self.freq_min

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "num_labels": self.num_labels,
            "freq_min": self.freq_min,
            "freq_max": self.freq_max,
            "std": self.std,
            "std_over_min": self.std_over_min,
        }


def segment_rows(counts: np.ndarray, eta: float) -> list[SegmentRow]:
    """Segment label counts [V] with eta and summarise each segment (segment 0 = the rarest)."""
    seg = Segmenter(eta).fit(counts)
    f = np.asarray(counts, dtype=np.float64)
    rows = []
    for s, labels in enumerate(seg.segments_):
        x = f[labels]
        rows.append(SegmentRow(s, int(labels.size), int(x.min()), int(x.max()), float(np.std(x))))
    return rows


def is_meds_dir(path: Path) -> bool:
    return path.is_dir() and (path / "metadata" / "subject_splits.parquet").is_file()


def is_codiesp_dir(path: Path) -> bool:
    return path.is_dir() and (path / "train" / "trainD.tsv").is_file()


def notes_label_counts(
    path: Path,
    *,
    num_labels: int | None,
    code_prefixes: tuple[str, ...],
    language: str = "en",
    code_types: tuple[str, ...] = ("D",),
) -> tuple[np.ndarray, list[str]]:
    """Training counts [V] (documents containing each label, most frequent first) and the labels.

    ``path`` is a CodiEsp root or a notes table file (parquet / CSV / JSONL in canonical columns).
    """
    from clincode.data.labels import LabelSpace
    from clincode.data.notes import read_codiesp, read_notes_table

    if is_codiesp_dir(path):
        table = read_codiesp(path, language=language, code_types=code_types)  # type: ignore[arg-type]  # option strings checked against read_codiesp's Literal choices
    else:
        table = read_notes_table(path)
    train = table.frame.filter(table.frame["split"] == "train")
    if train.height == 0:
        raise ValueError(f"{path} has no document in the train split; segments are fitted on training counts")
    space = LabelSpace(num_labels, level="code", code_prefixes=code_prefixes).fit(train["codes"].to_list())
    return space.counts_, list(space.codes_)


def meds_label_counts(path: Path, *, num_labels: int | None) -> tuple[np.ndarray, list[str]]:
    """Next-visit training counts [V] (training rows whose next visit has the label) and the labels."""
    from clincode.tasks import TASKS
    from clincode.tasks.base import InMemoryBuildTask

    task = TASKS.get("next_visit")()
    if not isinstance(task, InMemoryBuildTask):
        raise TypeError(f"task {task.name!r} cannot build its data in memory")
    data = task.build_in_memory(path, num_labels=num_labels)
    return task.label_stats(data).positives, list(data.label_space.codes_)


def dataset_label_counts(
    path: Path,
    *,
    num_labels: int | None = None,
    code_prefixes: tuple[str, ...] = ("ICD10CM//", "ICD9CM//"),
    language: str = "en",
    code_types: tuple[str, ...] = ("D",),
) -> tuple[np.ndarray, list[str]]:
    """Training label counts of a MEDS cohort, a CodiEsp root or a notes table (see module doc)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; expected a MEDS directory, a CodiEsp root or a notes table file")
    if is_meds_dir(path):
        return meds_label_counts(path, num_labels=num_labels)
    if path.is_dir() and not is_codiesp_dir(path):
        raise ValueError(
            f"{path} is a directory but neither a MEDS cohort (metadata/subject_splits.parquet) nor a CodiEsp root "
            "(train/trainD.tsv)"
        )
    return notes_label_counts(
        path, num_labels=num_labels, code_prefixes=code_prefixes, language=language, code_types=code_types
    )


def segments_report(counts: np.ndarray, eta: float) -> dict[str, Any]:
    """JSON-ready summary: eta, V, number of segments and one row per segment."""
    rows = segment_rows(counts, eta)
    return {
        "eta": float(eta),
        "num_labels": int(np.asarray(counts).size),
        "num_segments": len(rows),
        "head_tail_ratio": _head_tail_ratio(counts),
        "segments": [r.to_dict() for r in rows],
    }


def _head_tail_ratio(counts: np.ndarray) -> float | None:
    """max / min training frequency over labels seen at least once (the paper quotes ~700 for MIMIC)."""
    seen = np.asarray(counts)[np.asarray(counts) > 0]
    return float(seen.max() / seen.min()) if seen.size else None


def render_table(report: dict[str, Any], title: str) -> Any:
    """A rich Table of a :func:`segments_report`."""
    from rich.table import Table

    table = Table(title=title)
    for col in ("segment", "#labels", "frequency range", "std", "std / min"):
        table.add_column(col, justify="right")
    for r in report["segments"]:
        rng = str(r["freq_min"]) if r["freq_min"] == r["freq_max"] else f"{r['freq_min']}-{r['freq_max']}"
        table.add_row(str(r["segment"]), str(r["num_labels"]), rng, f"{r['std']:.2f}", f"{r['std_over_min']:.3f}")
    return table
