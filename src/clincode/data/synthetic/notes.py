"""Synthetic clinical notes: one discharge summary per visit of a synthetic EHR cohort.

Usage::

    from clincode.data.synthetic import generate_notes
    generate_notes(Path("notes"), cohort=Path("cohort"), seed=0)      # an existing cohort
    generate_notes(Path("notes"), n_patients=500, n_codes=300, seed=0)  # a fresh one, kept in notes/cohort

Labels are exactly the visit's ICD-10-CM codes, so the notes inherit the cohort's long tail (Zipf
code frequencies) and its co-occurrence (latent comorbidity processes, see
:mod:`clincode.data.synthetic.ehr`). Only the text is new: written by :mod:`note_text` from
rephrased descriptions (:mod:`note_phrases`), with negated and family-history mentions of
codes that are not labels, and distractor sentences. No label's official description appears
verbatim (case-insensitive) in its document.

Output (built in a temp dir next to ``out``, renamed into place)::

    out/notes.parquet   canonical notes table (doc_id, subject_id, text, codes, split), readable
                        by read_notes_table(path) with default arguments
    out/dataset.json    generator, version, seed, cohort, counts
    out/cohort/         the generated cohort (only when n_patients is given)

Splits are the cohort's patient-level splits. Same cohort and seed -> byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clincode.codes import is_chronic
from clincode.data.errors import DataError, DataNotFoundError
from clincode.data.notes.result import build_frame
from clincode.data.splits import SPLIT_NAMES, read_subject_splits
from clincode.data.synthetic.ehr import generate_ehr_cohort
from clincode.data.synthetic.note_phrases import inclusion_terms, scrub, surface_forms
from clincode.data.synthetic.note_text import CodeText, compose_note
from clincode.io import check_output_target, staging_dir, write_parquet

GENERATOR_NAME = "clincode.synth_notes"
GENERATOR_VERSION = "1"
LABEL_PREFIX = "ICD10CM//"
MEAN_NEGATIONS = 1.5
FAMILY_PROB = 0.3


def generate_notes(
    out: Path | str,
    *,
    cohort: Path | str | None = None,
    n_patients: int | None = None,
    n_codes: int = 500,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write synthetic notes for every visit of ``cohort`` (or of a fresh cohort) to ``out``.

    Args:
        out: output directory (parent must exist; non-empty only with ``overwrite``).
        cohort: a cohort written by :func:`clincode.data.synthetic.ehr.generate_ehr_cohort`.
        n_patients: instead of ``cohort``, generate a cohort of this many patients (seeded by
            ``seed``, ``n_codes`` codes) and keep it in ``out/cohort``.
        n_codes: code universe of a generated cohort.
        seed: seed of the text generation (and of a generated cohort).
        overwrite: replace an existing non-empty ``out``.

    Returns:
        ``out``.

    Raises:
        ValueError: neither or both of ``cohort`` / ``n_patients``, or a bad parameter.
        DataNotFoundError / DataError: ``cohort`` is missing files or has no visit.
        FileExistsError: ``out`` is not empty and ``overwrite`` is False.
    """
    if (cohort is None) == (n_patients is None):
        raise ValueError("give exactly one of cohort (an existing synthetic cohort) or n_patients (generate one).")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed is {seed!r}; expected an integer >= 0.")
    out = Path(out)
    check_output_target(out, overwrite)
    with staging_dir(out, overwrite) as tmp:
        if n_patients is not None:
            cohort_dir = generate_ehr_cohort(tmp / "cohort", n_patients=n_patients, n_codes=n_codes, seed=seed, progress=False)
            cohort_label = "cohort"
        else:
            cohort_dir = Path(cohort)  # type: ignore[arg-type]  # a path here: the no-cohort case is handled above
            cohort_label = str(cohort)
        frame, counts = build_notes(cohort_dir, seed)
        write_parquet(frame, tmp / "notes.parquet")
        info = _dataset_info(cohort_dir, cohort_label, seed, counts)
        (tmp / "dataset.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataNotFoundError(f"{path} does not exist; expected the cohort's metadata/dataset.json.")
    return json.loads(path.read_text(encoding="utf-8"))


def _visits(cohort: Path) -> Iterator[tuple[int, int, datetime, bool, datetime, list[str]]]:
    """(subject_id, visit number from 1, visit time, female, birth, ICD-10-CM codes) per visit."""
    shards = sorted((cohort / "data").glob("*.parquet"))
    if not shards:
        raise DataNotFoundError(f"{cohort / 'data'} has no *.parquet shard; expected a synthetic cohort.")
    for shard in shards:
        events = pl.read_parquet(shard, columns=["subject_id", "time", "code"])
        female = set(events.filter(pl.col("code") == "GENDER//F")["subject_id"].to_list())
        birth = dict(events.filter(pl.col("code") == "MEDS_BIRTH").select("subject_id", "time").iter_rows())
        visits = (
            events.filter(pl.col("time").is_not_null() & pl.col("code").str.starts_with(LABEL_PREFIX))
            .group_by("subject_id", "time", maintain_order=True)
            .agg(pl.col("code"))
            .sort("subject_id", "time", maintain_order=True)
        )
        number: dict[int, int] = {}
        for subject_id, time, codes in visits.iter_rows():
            number[subject_id] = number.get(subject_id, 0) + 1
            yield subject_id, number[subject_id], time, subject_id in female, birth.get(subject_id, time), codes


def build_notes(cohort: Path, seed: int) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The canonical notes frame for every visit of ``cohort``, and counts for ``dataset.json``."""
    cohort = Path(cohort)
    codes_path = cohort / "metadata" / "codes.parquet"
    if not codes_path.is_file():
        raise DataNotFoundError(f"{codes_path} does not exist; expected a synthetic cohort directory.")
    meta = pl.read_parquet(codes_path, columns=["code", "description"])
    descriptions = dict(meta.filter(pl.col("code").str.starts_with(LABEL_PREFIX)).iter_rows())
    splits = dict(read_subject_splits(cohort / "metadata" / "subject_splits.parquet").iter_rows())
    texts: dict[str, CodeText] = {}

    def code_text(code: str) -> CodeText:
        if code not in texts:
            description = descriptions.get(code) or code
            forms = surface_forms(description, inclusion_terms(code))
            texts[code] = CodeText(code, description, forms, bool(is_chronic(code)))
        return texts[code]

    # Non-label mentions are drawn from the cohort's codes, sqrt-frequency weighted: frequent
    # conditions are the plausible "ruled out" ones, but the tail appears too.
    counts_by_code: dict[str, int] = {}
    visits = list(_visits(cohort))
    if not visits:
        raise DataError(f"{cohort} has no visit with an ICD-10-CM code; cannot write notes.")
    for *_, codes in visits:
        for code in codes:
            counts_by_code[code] = counts_by_code.get(code, 0) + 1
    pool = sorted(counts_by_code)
    weight = np.sqrt(np.array([counts_by_code[c] for c in pool], dtype=np.float64))
    weight /= weight.sum()

    columns: dict[str, list] = {k: [] for k in ("doc_id", "subject_id", "text", "codes", "split")}
    n_negations = 0
    for subject_id, visit, time, female, birth, codes in visits:
        rng = np.random.default_rng([seed, subject_id, visit])
        labels = [code_text(c) for c in codes]
        label_set = set(codes)
        n_neg = int(rng.poisson(MEAN_NEGATIONS))
        n_fam = int(rng.random() < FAMILY_PROB)
        others = _draw_others(pool, weight, label_set, n_neg + n_fam, rng)
        age = max(0, int((time - birth).days // 365.25))
        text = compose_note(
            labels, [code_text(c) for c in others[:n_neg]], [code_text(c) for c in others[n_neg:]],
            age, female, time, rng,
        )  # fmt: skip
        text = scrub(text, [t.description for t in labels])
        n_negations += min(n_neg, len(others))
        columns["doc_id"].append(f"{subject_id}-{visit:03d}")
        columns["subject_id"].append(int(subject_id))
        columns["text"].append(text)
        columns["codes"].append(list(codes))
        columns["split"].append(splits[subject_id])
    frame = build_frame(**columns)
    per_split = {name: int((frame["split"] == name).sum()) for name in SPLIT_NAMES}
    lengths = frame["text"].str.len_chars()
    counts = {
        "documents": frame.height,
        "documents_per_split": per_split,
        "patients": int(frame["subject_id"].n_unique()),
        "distinct_codes": len(counts_by_code),
        "label_occurrences": int(sum(counts_by_code.values())),
        "mean_codes_per_document": round(sum(counts_by_code.values()) / frame.height, 4),
        "mean_characters_per_document": round(float(lengths.mean()), 1),  # type: ignore[arg-type]  # polars types Series.mean() as any scalar
        "negated_mentions": n_negations,
    }
    return frame, counts


def _draw_others(
    pool: list[str], weight: np.ndarray, labels: set[str], n: int, rng: np.random.Generator
) -> list[str]:
    """Up to ``n`` distinct codes of ``pool`` that are not labels (``weight``-proportional)."""
    if n == 0:
        return []
    picks = rng.choice(len(pool), size=min(len(pool), n + len(labels) + 2), replace=False, p=weight)
    return [pool[i] for i in picks.tolist() if pool[i] not in labels][:n]


def _dataset_info(cohort: Path, cohort_label: str, seed: int, counts: dict[str, Any]) -> dict[str, Any]:
    from clincode import __version__

    cohort_info = _read_json(cohort / "metadata" / "dataset.json")
    return {
        "generator": GENERATOR_NAME,
        "generator_version": GENERATOR_VERSION,
        "clincode_version": __version__,
        "seed": seed,
        "cohort": {
            "path": cohort_label,
            "generator": cohort_info.get("generator"),
            "generator_version": cohort_info.get("generator_version"),
            "seed": cohort_info.get("seed"),
        },
        "counts": counts,
        "text": (
            "one discharge summary per cohort visit; labels = the visit's ICD-10-CM codes; text from "
            "rephrased descriptions, simple_icd_10_cm inclusion terms and abbreviations, negated and "
            "family-history mentions of non-label codes, distractor sentences; no label description verbatim"
        ),
        "files": ["notes.parquet", "dataset.json", *(["cohort/"] if cohort_label == "cohort" else [])],
    }
