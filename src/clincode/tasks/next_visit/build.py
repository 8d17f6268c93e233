"""Next-visit diagnosis forecasting over any MEDS-shaped dataset.

At each visit t of a patient the target is the label set of visit t+1 (the last visit has no
target). Definitions ([ours] where the papers are silent, see docs/methods.md section 1.1):

- Visit: a patient's timed events grouped by timestamp (default) or, with ``visit_window``, by an
  anchored window: a new visit starts when an event is more than ``visit_window`` after the first
  event of the current visit. Static events (null time), ``MEDS_BIRTH`` and ``GENDER//*`` are not
  visit events. A visit's time is its last event's time: the prediction time, so every input token
  of visits 0..t is dated <= visit_time[t].
- Inputs: every other event code of the visit (diagnoses, procedures, labs; values ignored), once
  per visit at its earliest time, as Vocab ids (UNK for codes rare or unseen in train). When a
  visit has more than ``max_codes_per_visit`` codes, label-prefixed codes (diagnoses) are kept
  first, then the earliest events, ties by code string; kept tokens are ordered by (time, code).
- Labels of a visit: distinct LabelSpace columns of its label-prefixed codes.
- Patients with fewer than ``min_visits`` (default 2) visits have no target and are dropped; the
  number dropped per split is in ``stats`` and is printed when ``progress`` is on.
- Patients with more than ``max_visits`` visits keep their most recent ``max_visits`` visits
  (the most recent history matters most for the next visit); counted in ``stats``.
- Age: years (365.25 days) from the earliest ``MEDS_BIRTH`` to visit_time; NaN when a patient has
  no birth event (the batch collator turns NaN into 0.0).
- Sex: 1 for ``GENDER//F``, 2 for ``GENDER//M``, 0 when absent or contradictory.
- LabelSpace and Vocab are fitted on the training split's kept visits only (after the two rules
  above), counting each visit once per label / code.

Scale: processing goes shard unit by shard unit (:func:`clincode.data.meds.shard_units`): pass 1
builds each unit's visits and adds its training counts (label and code counts are sums over
units: units share no patient), then LabelSpace and Vocab are fitted, then pass 2 encodes unit by
unit. In memory (``out_dir=None``) the pass-1 units are kept between the passes and the split
tables concatenated, as suits small cohorts. With ``out_dir`` the build streams: pass-1 units are
spilled to lz4 Arrow files, each encoded unit goes to disk at once, and the splits are merged
into the saved task (:class:`clincode.tasks.next_visit.writer.TaskDirWriter`), so peak memory is set by
the largest shard unit, not by the cohort. Both give the same task, bit for bit (tested).
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from clincode.data.errors import DataError
from clincode.data.labels import LabelSpace
from clincode.data.meds import US_PER_SECOND, assign_visits, scan_events, shard_units
from clincode.data.schema import validate_meds_dir
from clincode.data.splits import SPLIT_NAMES, read_subject_splits
from clincode.data.vocab import UNK_ID, Vocab
from clincode.tasks.next_visit.data import (
    TASK_SCHEMA,
    NextVisitConfig,
    NextVisitData,
    empty_task_frame,
)
from clincode.tasks.next_visit.writer import TaskDirWriter

__all__ = ["NextVisitConfig", "NextVisitData", "build_next_visit"]

log = logging.getLogger(__name__)

BIRTH_CODE = "MEDS_BIRTH"
SEX_CODES: dict[str, int] = {"GENDER//F": 1, "GENDER//M": 2}
US_PER_YEAR = 365.25 * 86400 * US_PER_SECOND
# Patients merged per step when a streamed build writes its splits (bounds the merge's memory).
STREAM_ROWS_PER_CHUNK = 16384


@dataclass
class _Unit:
    """Pass-1 result for one shard unit (all frames eager, small relative to the raw events)."""

    events: pl.DataFrame  # subject_id, split, visit_idx, code, t_us (distinct per visit and code)
    visits: pl.DataFrame  # subject_id, split, visit_idx, visit_time_us
    patients: pl.DataFrame  # subject_id, split, sex, birth_us


def build_next_visit(
    meds_dir: str | Path,
    *,
    num_labels: int | None = 1538,
    label_level: str = "code",
    code_prefixes: tuple[str, ...] = ("ICD10CM//", "ICD9CM//"),
    visit_window: timedelta | None = None,
    max_visits: int = 64,
    max_codes_per_visit: int = 64,
    min_code_count: int = 1,
    min_visits: int = 2,
    progress: bool = True,
    fitted: tuple[LabelSpace, Vocab] | None = None,
    allow_empty_splits: bool = False,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
) -> NextVisitData:
    """Build the next-visit task from a MEDS directory.

    Args:
        meds_dir: MEDS dataset directory (``data/**/*.parquet``, ``metadata/subject_splits.parquet``).
        num_labels: V, label columns kept (top-V by training visit count); None keeps all.
        label_level: "code", "category" (3-character ICD) or "ccs" (single-level CCS).
        code_prefixes: prefixes of label codes (diagnoses).
        visit_window: None groups events by exact timestamp; else an anchored window (see module doc).
        max_visits: most recent visits kept per patient.
        max_codes_per_visit: input tokens kept per visit (diagnoses first).
        min_code_count: Vocab min count (training visits containing the code).
        min_visits: patients with fewer visits are dropped (2 = at least one target).
        progress: show a rich progress bar and print the dropped / truncated counts.
        fitted: a LabelSpace and Vocab already fitted (e.g. loaded from a trained run) to encode
            this dataset with, instead of fitting them on its training split (for prediction).
        allow_empty_splits: do not raise for a split with no patient (for prediction).
        out_dir: stream the task into this directory with bounded memory (see module doc) and
            return it loaded from there (tables read on demand, arrays memory-mapped); None builds
            it in memory. The result is the same either way.
        overwrite: replace an existing ``out_dir``.

    Returns:
        NextVisitData with one table per split, the fitted LabelSpace and Vocab, and build stats.

    Raises:
        FileExistsError: ``out_dir`` exists and ``overwrite`` is False.
        DataError: invalid dataset (see :func:`clincode.data.schema.validate_meds_dir`), a split
            with no patient left, or num_labels larger than the labels seen in training.
    """
    if max_visits < 2:
        raise ValueError(f"max_visits must be >= 2 (a target needs a next visit), got {max_visits}.")
    if max_codes_per_visit < 1:
        raise ValueError(f"max_codes_per_visit must be >= 1, got {max_codes_per_visit}.")
    if min_visits < 1:
        raise ValueError(f"min_visits must be >= 1, got {min_visits}.")
    if visit_window is not None and visit_window < timedelta(0):
        raise ValueError(f"visit_window must be non-negative, got {visit_window}.")
    window_us = None if visit_window is None else int(visit_window / timedelta(microseconds=1))
    config = NextVisitConfig(
        num_labels=num_labels,
        label_level=label_level,
        code_prefixes=tuple(code_prefixes),
        visit_window_hours=None if visit_window is None else visit_window / timedelta(hours=1),
        max_visits=max_visits,
        max_codes_per_visit=max_codes_per_visit,
        min_code_count=min_code_count,
        min_visits=min_visits,
    )
    if fitted is None:
        label_space = LabelSpace(num_labels, label_level, tuple(code_prefixes))  # validates level early
        vocab = Vocab(min_code_count)
    else:
        label_space, vocab = fitted

    out = None if out_dir is None else Path(out_dir)
    if out is not None and out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite=True to replace the saved task.")
    layout = validate_meds_dir(meds_dir)
    # An Enum split column is a 1-byte code per event row instead of a string.
    splits = read_subject_splits(layout.subject_splits).with_columns(pl.col("split").cast(pl.Enum(SPLIT_NAMES)))
    units = shard_units(layout.shards)
    stats: dict[str, Any] = {"events": layout.num_events, "shard_units": len(units)}
    args = _Args(splits, label_space, vocab, tuple(code_prefixes), window_us, min_visits, max_visits, max_codes_per_visit)

    if out is None:
        parts: dict[str, list[pl.DataFrame]] = {name: [] for name in SPLIT_NAMES}
        _two_passes(units, args, _UnitStore(None), lambda name, frame: parts[name].append(frame), fitted is None, stats, progress)
        tables = {}
        for name in SPLIT_NAMES:
            frame = pl.concat(parts[name]) if parts[name] else empty_task_frame()
            tables[name] = frame.select(list(TASK_SCHEMA)).sort("subject_id")
            stats[f"{name}/patients"] = tables[name].height
            stats[f"{name}/visits"] = int(tables[name]["visit_time"].list.len().sum() or 0)
        _check_splits(stats, layout.root, min_visits, allow_empty_splits)
        _report(stats, progress)
        return NextVisitData(tables, label_space, vocab, config, stats)

    with TaskDirWriter(out, rows_per_chunk=STREAM_ROWS_PER_CHUNK) as writer:
        store = _UnitStore(writer.work / "units")
        _two_passes(units, args, store, writer.add, fitted is None, stats, progress)
        store.close()
        for name in SPLIT_NAMES:
            stats[f"{name}/patients"] = writer.sizes[name].patients
            stats[f"{name}/visits"] = writer.sizes[name].visits
        _check_splits(stats, layout.root, min_visits, allow_empty_splits)
        writer.finish(label_space, vocab, config, stats)
    _report(stats, progress)
    return NextVisitData.load(out)


@dataclass(frozen=True)
class _Args:
    """The per-unit parameters of both passes."""

    splits: pl.DataFrame
    label_space: LabelSpace
    vocab: Vocab
    code_prefixes: tuple[str, ...]
    window_us: int | None
    min_visits: int
    max_visits: int
    max_codes_per_visit: int


def _two_passes(
    units: list[list[Path]],
    a: _Args,
    store: _UnitStore,
    emit: Callable[[str, pl.DataFrame], None],
    fit: bool,
    stats: dict[str, Any],
    progress: bool,
) -> None:
    """Pass 1 (visits, training counts) over every unit, fit, pass 2 (encode) over every unit.

    ``emit(split, frame)`` receives each unit's encoded patients of each split (task columns,
    sorted by subject_id within the unit).
    """
    with _Progress(progress, total=2 * len(units) + 1) as bar:
        counts = _TrainCounts()
        split_counts: Counter[str] = Counter()
        for i, unit in enumerate(units):
            bar.describe(f"visits {i + 1}/{len(units)}")
            u, unit_stats = _build_unit(unit, a.splits, a.vocab, a.window_us, a.min_visits, a.max_visits)
            split_counts.update(unit_stats)
            if fit:
                counts.add(u, a.label_space)
            store.put(i, u)
            del u
            bar.advance()
        stats.update(split_counts)
        bar.describe("fit label space + vocab")
        if fit:
            counts.fit(a.label_space, a.vocab)
        bar.advance()
        for i in range(len(units)):
            bar.describe(f"encode {i + 1}/{len(units)}")
            encoded = _encode_unit(store.pop(i), a.label_space, a.vocab, a.code_prefixes, a.max_codes_per_visit)
            for name in SPLIT_NAMES:
                emit(name, encoded.filter(pl.col("split") == name).drop("split").select(list(TASK_SCHEMA)))
            del encoded  # each unit is freed once encoded
            bar.advance()


def _check_splits(stats: dict[str, Any], root: Path, min_visits: int, allow_empty_splits: bool) -> None:
    for name in SPLIT_NAMES:
        if stats[f"{name}/patients"] == 0 and not allow_empty_splits:
            raise DataError(
                f"split {name!r} has no patient with at least {min_visits} visits in {root} "
                f"({stats.get(f'{name}/dropped_few_visits', 0)} dropped for too few visits); "
                "expected at least one in every split."
            )


class _UnitStore:
    """Pass-1 units kept between the passes: in memory (folder None) or spilled to lz4 Arrow files."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.kept: dict[int, _Unit] = {}
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def put(self, i: int, u: _Unit) -> None:
        if self.folder is None:
            self.kept[i] = u
            return
        for kind in ("events", "visits", "patients"):
            getattr(u, kind).write_ipc(self.folder / f"{i:05d}-{kind}.arrow", compression="lz4")

    def pop(self, i: int) -> _Unit:
        if self.folder is None:
            return self.kept.pop(i)
        frames = {}
        for kind in ("events", "visits", "patients"):
            path = self.folder / f"{i:05d}-{kind}.arrow"
            frames[kind] = pl.read_ipc(path)
            path.unlink()
        return _Unit(**frames)

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _is_visit_event(vocab: Vocab) -> pl.Expr:
    code = pl.col("code")
    excluded = code.is_in(list(vocab.exclude_codes))
    for prefix in vocab.exclude_prefixes:
        excluded = excluded | code.str.starts_with(prefix)
    return pl.col("t_us").is_not_null() & ~excluded


def _build_unit(
    shards: list[Path],
    splits: pl.DataFrame,
    vocab: Vocab,
    window_us: int | None,
    min_visits: int,
    max_visits: int,
) -> tuple[_Unit, Counter[str]]:
    """Pass 1 on one shard unit: visits, dropped / truncated patients, distinct visit events."""
    raw = scan_events(shards).collect()  # read the unit once; all later steps are in memory
    counts: Counter[str] = Counter()
    subjects = raw.select("subject_id").unique()
    counts["unassigned_subjects"] += subjects.join(splits, on="subject_id", how="anti").height
    events = raw.join(splits, on="subject_id", how="inner")
    del raw

    sex = (
        events.filter(pl.col("code").is_in(list(SEX_CODES)))
        .group_by("subject_id")
        .agg(pl.col("code").unique().alias("codes"))
        .select(
            "subject_id",
            pl.when(pl.col("codes").list.len() == 1)
            .then(pl.col("codes").list.first().replace_strict(SEX_CODES, return_dtype=pl.Int8))
            .otherwise(pl.lit(0, dtype=pl.Int8))
            .alias("sex"),
        )
    )
    birth = (
        events.filter((pl.col("code") == BIRTH_CODE) & pl.col("t_us").is_not_null())
        .group_by("subject_id")
        .agg(pl.col("t_us").min().alias("birth_us"))
    )
    visit_events = events.filter(_is_visit_event(vocab)).select("subject_id", "split", "t_us", "code")

    times = assign_visits(visit_events.select("subject_id", "t_us").unique(), window_us)
    n_visits = times.group_by("subject_id").agg(pl.col("visit_idx").max().alias("n") + 1)
    # Every subject with any event counts, so one with only static events is "dropped" too.
    per_subject = (
        events.select("subject_id", "split")
        .unique()
        .join(n_visits, on="subject_id", how="left")
        .with_columns(pl.col("n").fill_null(0))
    )
    for name in SPLIT_NAMES:
        in_split = per_subject.filter(pl.col("split") == name)
        counts[f"{name}/subjects"] += in_split.height
        counts[f"{name}/dropped_few_visits"] += in_split.filter(pl.col("n") < min_visits).height
        counts[f"{name}/truncated_max_visits"] += in_split.filter(pl.col("n") > max_visits).height
    # Keep the most recent max_visits visits of patients with at least min_visits visits.
    times = (
        times.join(n_visits, on="subject_id")
        .filter(pl.col("n") >= min_visits)
        .with_columns(offset=(pl.col("n") - max_visits).clip(lower_bound=0))
        .filter(pl.col("visit_idx") >= pl.col("offset"))
        .with_columns((pl.col("visit_idx") - pl.col("offset")).cast(pl.Int32).alias("visit_idx"))
        .drop("n", "offset")
    )
    unit_events = (
        visit_events.join(times.select("subject_id", "t_us", "visit_idx"), on=["subject_id", "t_us"], how="inner")
        .group_by("subject_id", "split", "visit_idx", "code")
        .agg(pl.col("t_us").min())
    )
    visits = (
        times.group_by("subject_id", "visit_idx")
        .agg(pl.col("visit_time_us").first())
        .join(splits, on="subject_id", how="inner")
    )
    patients = (
        visits.select("subject_id", "split")
        .unique()
        .join(sex, on="subject_id", how="left")
        .join(birth, on="subject_id", how="left")
        .with_columns(pl.col("sex").fill_null(0))
    )
    return _Unit(unit_events, visits, patients), counts


class _TrainCounts:
    """Training counts for LabelSpace and Vocab, summed unit by unit (units share no patient)."""

    def __init__(self) -> None:
        self.code_counts: Counter[str] = Counter()
        self.label_counts: Counter[str] = Counter()
        self.n_train_visits = 0
        self.mapping: dict[str, str | None] = {}  # code -> label, cached across units

    def add(self, u: _Unit, label_space: LabelSpace) -> None:
        train = u.events.filter(pl.col("split") == "train")
        self.n_train_visits += u.visits.filter(pl.col("split") == "train").height
        per_code = train.group_by("code").len()  # rows are distinct per (visit, code): visit counts
        self.code_counts.update(dict(per_code.iter_rows()))
        new = [c for c in per_code["code"].to_list() if c not in self.mapping]
        self.mapping.update({c: label_space.label_of(c) for c in new})
        labelled = (
            train.with_columns(pl.col("code").replace_strict(self.mapping, default=None, return_dtype=pl.String).alias("label"))
            .filter(pl.col("label").is_not_null())
            .select("subject_id", "visit_idx", "label")
            .unique()
            .group_by("label")
            .len()
        )
        self.label_counts.update(dict(labelled.iter_rows()))

    def fit(self, label_space: LabelSpace, vocab: Vocab) -> None:
        label_space.fit_label_counts(self.label_counts, n_visits=self.n_train_visits)
        vocab.fit(self.code_counts)


def _encode_unit(
    u: _Unit,
    label_space: LabelSpace,
    vocab: Vocab,
    code_prefixes: tuple[str, ...],
    max_codes_per_visit: int,
) -> pl.DataFrame:
    """Pass 2 on one unit: token ids, label columns and ages, aggregated to one row per patient."""
    keys = ["subject_id", "visit_idx"]
    # One row per distinct code of the unit; later sorts and joins then run on integers only.
    codes = u.events["code"].unique().sort().to_list()
    label_of = _label_columns(codes, label_space)
    code_table = pl.DataFrame(
        {
            "code": codes,
            "code_rank": range(len(codes)),  # lexical order: the tie-break of the token order
            "token": [vocab.index_.get(c, UNK_ID) for c in codes],
            "label": [label_of.get(c) for c in codes],
            "_later": [not c.startswith(code_prefixes) for c in codes],  # non-label codes drop first
        },
        schema={"code": pl.String, "code_rank": pl.Int32, "token": pl.Int32, "label": pl.Int32, "_later": pl.Boolean},
    )
    events = u.events.join(code_table, on="code", how="left").drop("code").sort(*keys, "t_us", "code_rank")
    kept = _truncate_visits(events, keys, max_codes_per_visit)
    # group_by keeps the frame's row order inside each group: tokens stay in (time, code) order.
    tokens = kept.group_by(keys, maintain_order=True).agg(
        pl.col("token").alias("tokens"), pl.col("t_us").floordiv(US_PER_SECOND).alias("token_time")
    )
    labels = (
        events.select(*keys, "label")
        .filter(pl.col("label").is_not_null())
        .sort(*keys, "label")
        .group_by(keys, maintain_order=True)
        .agg(pl.col("label").unique(maintain_order=True).alias("labels"))  # codes of a group share a label
    )
    visits = (
        u.visits.join(u.patients.select("subject_id", "birth_us"), on="subject_id", how="left")
        .join(tokens, on=keys, how="left")
        .join(labels, on=keys, how="left")
        .with_columns(
            pl.col("visit_time_us").floordiv(US_PER_SECOND).alias("visit_time"),
            ((pl.col("visit_time_us") - pl.col("birth_us")) / US_PER_YEAR).cast(pl.Float32).fill_null(float("nan")).alias("age"),
            pl.col("labels").fill_null(pl.lit([], dtype=pl.List(pl.Int32))),
        )
        .sort(*keys)
    )
    patients = visits.group_by("subject_id", maintain_order=True).agg(
        pl.col("split").first(),
        pl.col("visit_time"),
        pl.col("age"),
        pl.col("tokens"),
        pl.col("token_time"),
        pl.col("labels"),
    )
    return patients.join(u.patients.select("subject_id", "sex"), on="subject_id", how="left").with_columns(
        pl.col("sex").cast(pl.Int8)
    ).select("split", *TASK_SCHEMA).cast(TASK_SCHEMA)  # type: ignore[arg-type]  # polars' stubs take dtype classes, not instances


def _truncate_visits(events: pl.DataFrame, keys: list[str], max_codes: int) -> pl.DataFrame:
    """Keep at most ``max_codes`` events per visit: label codes first, then earliest, then by code.

    ``events`` is sorted by (keys, t_us, code_rank) and so is the result. Only over-long visits
    are re-sorted, usually a small fraction.
    """
    sizes = events.group_by(keys).len()
    over = sizes.filter(pl.col("len") > max_codes).select(keys)
    if over.height == 0:
        return events
    big = events.join(over, on=keys, how="semi")
    big = (
        big.sort(*keys, "_later", "t_us", "code_rank")
        .filter(pl.int_range(pl.len()).over(keys) < max_codes)
    )
    small = events.join(over, on=keys, how="anti")
    return pl.concat([small, big]).sort(*keys, "t_us", "code_rank")


def _label_columns(codes: list[str], label_space: LabelSpace) -> dict[str, int]:
    out: dict[str, int] = {}
    for code in codes:
        label = label_space.label_of(code)
        if label is not None and label in label_space.index_:
            out[code] = label_space.index_[label]
    return out


def _report(stats: dict[str, Any], progress: bool) -> None:
    parts = []
    for name in SPLIT_NAMES:
        parts.append(
            f"{name}: {stats.get(f'{name}/patients', 0)} patients kept, "
            f"{stats.get(f'{name}/dropped_few_visits', 0)} dropped (too few visits), "
            f"{stats.get(f'{name}/truncated_max_visits', 0)} truncated to max_visits"
        )
    unassigned = stats.get("unassigned_subjects", 0)
    message = "; ".join(parts) + f"; {unassigned} subjects without a split ignored"
    log.info("next-visit task: %s", message)
    if progress:
        from rich.console import Console

        Console(stderr=True).print(f"next-visit task: {message}")


class _Progress:
    """A rich progress bar when enabled, a no-op otherwise."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("next-visit task", total=self.total)
        return self

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=f"next-visit task: {text}")

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

