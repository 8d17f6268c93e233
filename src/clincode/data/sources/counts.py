"""Named counters of everything a reader normalised, skipped or noticed (never a silent drop).

Every rule in the readers that removes or changes a row adds to one named counter here; the
prepared dataset's ``metadata/dataset.json`` lists them all (zeros included, so a reader of the
file sees which checks ran).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Name -> one-line meaning; the keys are the full set written to dataset.json["counts"]["skipped"].
SKIP_RULES: dict[str, str] = {
    "codes_with_stray_spaces_or_dots": "raw ICD codes with spaces or dots, normalised (kept)",
    "events_with_empty_code": "diagnosis/procedure rows with an empty code (dropped)",
    "events_with_malformed_code": "diagnosis/procedure rows whose code does not fit its ICD version (dropped)",
    "events_with_unknown_icd_version": "diagnosis/procedure rows with icd_version not 9 or 10 (dropped)",
    "events_with_unknown_admission": "diagnosis/procedure rows whose hadm_id is not in admissions (dropped)",
    "duplicate_events_merged": "identical (subject, time, code) rows collapsed into one",
    "admissions_without_discharge_time": "admissions with an empty discharge time (dropped with their codes)",
    "admissions_of_unknown_patients": "admissions whose subject_id is not in patients (dropped with their codes)",
    "admissions_without_diagnoses": "admissions with no diagnosis code (dropped, with their procedures)",
    "procedure_events_of_admissions_without_diagnoses": "procedure rows dropped with those admissions",
    "admissions_before_birth": "admissions discharged before the birth datetime (dropped with their codes)",
    "admissions_after_death": "admissions discharged after the day of death (dropped with their codes)",
    "events_before_birth": "MEDS source: timed events before the subject's MEDS_BIRTH (dropped)",
    "events_after_death": "MEDS source: timed events after the day of the subject's MEDS_DEATH (dropped)",
    "events_with_null_subject_or_code": "MEDS source: rows with a null subject_id or code (dropped)",
    "patients_with_unknown_gender": "patients whose gender is not F or M (kept, no GENDER event)",
    "patients_without_visits": "patients with no admission left (kept: birth/gender only)",
    "patients_with_one_visit": "patients with exactly one visit: no next-visit target (kept; tasks drop them)",
    "icd9_codes_without_gem_mapping": "distinct ICD-9-CM codes with no ICD-10-CM GEM target (kept as ICD9CM)",
    "icd9_events_without_gem_mapping": "ICD-9-CM events with no GEM target (kept as ICD9CM)",
}


@dataclass
class SkipCounts:
    """Mutable counters keyed by :data:`SKIP_RULES` names (unknown names are a programming error)."""

    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_RULES, 0))

    def add(self, name: str, n: int) -> None:
        """Add ``n`` (>= 0) to counter ``name``."""
        if name not in SKIP_RULES:
            raise KeyError(f"unknown skip counter {name!r}; expected one of {sorted(SKIP_RULES)}.")
        if n < 0:
            raise ValueError(f"skip counter {name!r} cannot decrease (got {n}).")
        self.values[name] += int(n)

    def nonzero(self) -> dict[str, int]:
        """The counters that fired, in declaration order."""
        return {k: v for k, v in self.values.items() if v}
