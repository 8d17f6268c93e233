"""Turn :class:`HospTables` into MEDS events, applying (and counting) every bad-input rule.

Visit = hospital admission. All codes of an admission (diagnoses and procedures) are timed at the
discharge time: diagnoses are only final at discharge, and one timestamp per admission makes
``clincode.tasks.next_visit.build`` see exactly one visit per admission [ours for procedures; their
chart dates would otherwise split an admission into several visits].
Static rows: ``GENDER//F|M`` (null time), ``MEDS_BIRTH`` at birth, optionally ``MEDS_DEATH``.
"""

from __future__ import annotations

import polars as pl

from clincode.data.sources.counts import SkipCounts
from clincode.data.sources.gems import icd9_to_icd10_table
from clincode.data.sources.hosp import HospTables
from clincode.data.sources.icd_format import CODE_SYSTEMS, dotted_code, has_stray_chars, normalise_body

EVENT_SCHEMA: dict[str, pl.DataType] = {
    "subject_id": pl.Int64(),
    "time": pl.Datetime("us"),
    "code": pl.String(),
    "numeric_value": pl.Float32(),
}


def hosp_events(tables: HospTables, counts: SkipCounts, *, icd9_to_icd10: bool, include_death: bool) -> pl.DataFrame:
    """MEDS events (EVENT_SCHEMA) sorted by subject_id, time (nulls first), code."""
    patients = tables.patients
    admissions = _valid_admissions(tables.admissions, patients, counts)
    codes = _coded_events(tables.codes, tables.admissions, admissions, counts, icd9_to_icd10=icd9_to_icd10)

    has_dx = codes.filter(pl.col("kind") == "diagnosis").select("hadm_id").unique()
    no_dx = admissions.join(has_dx, on="hadm_id", how="anti")
    counts.add("admissions_without_diagnoses", no_dx.height)
    dropped_px = codes.join(no_dx.select("hadm_id"), on="hadm_id", how="semi")
    counts.add("procedure_events_of_admissions_without_diagnoses", dropped_px.height)
    admissions = admissions.join(has_dx, on="hadm_id", how="semi")
    codes = codes.join(admissions.select("hadm_id"), on="hadm_id", how="semi")

    visits = admissions.group_by("subject_id").agg(pl.col("disch").n_unique().alias("n"))
    counts.add("patients_with_one_visit", visits.filter(pl.col("n") == 1).height)
    counts.add("patients_without_visits", patients.join(visits, on="subject_id", how="anti").height)

    timed = codes.join(admissions.select("hadm_id", "disch"), on="hadm_id").select(
        "subject_id", pl.col("disch").alias("time"), "code"
    )
    n_before = timed.height
    timed = timed.unique()
    counts.add("duplicate_events_merged", n_before - timed.height)

    sex = pl.col("sex").str.strip_chars().str.to_uppercase()
    known = patients.filter(sex.is_in(["F", "M"]))
    counts.add("patients_with_unknown_gender", patients.height - known.height)
    parts = [
        known.select("subject_id", pl.lit(None, pl.Datetime("us")).alias("time"), ("GENDER//" + sex).alias("code")),
        patients.select("subject_id", pl.col("birth").alias("time"), pl.lit("MEDS_BIRTH").alias("code")),
        timed,
    ]
    if include_death:
        dead = patients.filter(pl.col("death").is_not_null())
        parts.append(dead.select("subject_id", pl.col("death").alias("time"), pl.lit("MEDS_DEATH").alias("code")))
    events = pl.concat([p.cast({"time": pl.Datetime("us")}) for p in parts], how="vertical")
    events = events.with_columns(pl.lit(None, pl.Float32).alias("numeric_value"))
    return events.sort("subject_id", "time", "code", nulls_last=False).select(list(EVENT_SCHEMA))


def _valid_admissions(admissions: pl.DataFrame, patients: pl.DataFrame, counts: SkipCounts) -> pl.DataFrame:
    """Admissions with a discharge time, a known patient, inside [birth, end of death day]."""
    no_time = admissions.filter(pl.col("disch").is_null())
    counts.add("admissions_without_discharge_time", no_time.height)
    adm = admissions.filter(pl.col("disch").is_not_null())
    unknown = adm.join(patients, on="subject_id", how="anti")
    counts.add("admissions_of_unknown_patients", unknown.height)
    adm = adm.join(patients.select("subject_id", "birth", "death"), on="subject_id")
    before = pl.col("disch") < pl.col("birth")
    # Dates of death are day-precision (MIMIC-IV dod, MIMIC-III DOD): the whole day counts as alive.
    after = pl.col("death").is_not_null() & (pl.col("disch").dt.date() > pl.col("death").dt.date())
    counts.add("admissions_before_birth", adm.filter(before).height)
    counts.add("admissions_after_death", adm.filter(after & ~before).height)
    return adm.filter(~before & ~after).select("subject_id", "hadm_id", "disch")


def _coded_events(
    codes: pl.DataFrame, raw_admissions: pl.DataFrame, admissions: pl.DataFrame, counts: SkipCounts, *, icd9_to_icd10: bool) -> pl.DataFrame:
    """Rows (subject_id, hadm_id, kind, code) with normalised, validated, prefixed codes."""
    counts.add("codes_with_stray_spaces_or_dots", codes.filter(has_stray_chars(pl.col("raw")).fill_null(False)).height)
    codes = codes.with_columns(normalise_body(pl.col("raw")).alias("body"))
    empty = pl.col("body").is_null() | (pl.col("body") == "")
    counts.add("events_with_empty_code", codes.filter(empty).height)
    codes = codes.filter(~empty)
    known_version = pl.col("version").is_in([9, 10])
    counts.add("events_with_unknown_icd_version", codes.filter(~known_version).height)
    codes = codes.filter(known_version)

    frames = []
    for (kind, version), (_, pattern, _) in CODE_SYSTEMS.items():
        part = codes.filter((pl.col("kind") == kind) & (pl.col("version") == version))
        ok = pl.col("body").str.contains(pattern)
        counts.add("events_with_malformed_code", part.filter(~ok).height)
        part = part.filter(ok)
        if (kind, version) == ("diagnosis", 9) and icd9_to_icd10:
            frames.append(_convert_icd9(part, counts))
        else:
            frames.append(part.with_columns(dotted_code(pl.col("body"), kind, version).alias("code")))
    coded = pl.concat([f.select("subject_id", "hadm_id", "kind", "code") for f in frames], how="vertical")

    # A code must belong to an admission of the same patient. Codes of admissions that exist but
    # were dropped by the admission checks are counted there (per admission), not again here.
    key = ["subject_id", "hadm_id"]
    unknown = coded.join(raw_admissions.select(key), on=key, how="anti")
    counts.add("events_with_unknown_admission", unknown.height)
    return coded.join(admissions.select(key), on=key, how="semi")


def _convert_icd9(part: pl.DataFrame, counts: SkipCounts) -> pl.DataFrame:
    """ICD-9-CM diagnosis rows -> ICD-10-CM rows via the GEMs; unmapped rows keep ICD9CM (counted)."""
    gem = icd9_to_icd10_table()
    mapped = part.join(gem, left_on="body", right_on="icd9", how="inner")
    unmapped = part.join(gem.select("icd9").unique(), left_on="body", right_on="icd9", how="anti")
    counts.add("icd9_codes_without_gem_mapping", unmapped["body"].n_unique())
    counts.add("icd9_events_without_gem_mapping", unmapped.height)
    return pl.concat(
        [
            mapped.with_columns(dotted_code(pl.col("icd10"), "diagnosis", 10).alias("code")).drop("icd10"),
            unmapped.with_columns(dotted_code(pl.col("body"), "diagnosis", 9).alias("code")),
        ],
        how="vertical",
    )
