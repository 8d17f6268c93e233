"""Patients and visit times of a synthetic cohort (vectorised; one call per shard).

[ours] Ages at entry: a pediatric share uniform on 0-18 years, adults 18 + 77 * Beta(2.2, 2.0)
(mean ~59, as in hospital cohorts). Visits per patient: 1 + negative binomial (mean
``mean_visits``, dispersion ``visits_dispersion``: long tail). Gaps: a ``short_gap_fraction`` of
short follow-ups (1 + Exp(10) days), the rest log-normal with median ``median_gap_days`` and sigma
1.1 (irregular, months to years). Follow-up longer than the study window is compressed into it;
times are whole seconds at any time of day, and all codes of a visit share its timestamp.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from clincode.data.synthetic.params import SynthParams
from clincode.data.synthetic.ragged import ragged_arange

US_PER_DAY = 86_400 * 1_000_000
DAYS_PER_YEAR = 365.25
AGE_BAND_YEARS = 5
N_AGE_BANDS = 21  # 0-4, 5-9, ..., 95-99, 100+


@dataclass(frozen=True)
class Cohort:
    """S patients and their Nv visits, visits ordered by patient then time.

    Attributes:
        female: (S,) bool.
        n_visits: (S,) int64 >= 1; visit_ptr: (S + 1,) CSR offsets into the visit arrays.
        birth_us: (S,) int64 microseconds since the Unix epoch.
        visit_us: (Nv,) int64 visit timestamps (strictly increasing within a patient).
        visit_patient: (Nv,) int64 patient row; visit_rank: (Nv,) int64 position within the patient.
        visit_age: (Nv,) float64 age in years at the visit.
    """

    female: np.ndarray
    n_visits: np.ndarray
    visit_ptr: np.ndarray
    birth_us: np.ndarray
    visit_us: np.ndarray
    visit_patient: np.ndarray
    visit_rank: np.ndarray
    visit_age: np.ndarray

    @property
    def n_patients(self) -> int:
        return int(self.female.size)

    def sex_index(self) -> np.ndarray:
        """(S,) 0 = female, 1 = male (the first axis of the age/sex tables)."""
        return np.where(self.female, 0, 1).astype(np.int64)

    def last_visit_age(self) -> np.ndarray:
        """(S,) age in years at each patient's last visit."""
        return self.visit_age[self.visit_ptr[1:] - 1]


def age_band(age_years: np.ndarray) -> np.ndarray:
    """5-year age band index in [0, N_AGE_BANDS)."""
    return np.clip((np.asarray(age_years) // AGE_BAND_YEARS).astype(np.int64), 0, N_AGE_BANDS - 1)


def band_midpoints() -> np.ndarray:
    """(N_AGE_BANDS,) mid-age of each band in years."""
    return np.arange(N_AGE_BANDS) * AGE_BAND_YEARS + AGE_BAND_YEARS / 2


def _entry_ages(n: int, params: SynthParams, rng: np.random.Generator) -> np.ndarray:
    child = rng.random(n) < params.pediatric_fraction
    adult = 18.0 + 77.0 * rng.beta(2.2, 2.0, size=n)
    ages = np.where(child, rng.uniform(0.0, 18.0, size=n), adult)
    return np.maximum(ages, 2.0 / DAYS_PER_YEAR)  # born at least two days before the first visit


def sample_cohort(n: int, params: SynthParams, rng: np.random.Generator) -> Cohort:
    """Draw ``n`` patients (sex, birth, visit times) for one shard."""
    start, end = params.start_end()
    start_day = (start - dt.datetime(1970, 1, 1)).days
    window = float((end - start).days)

    female = rng.random(n) < params.female_fraction
    age0 = _entry_ages(n, params, rng)
    extra_mean = params.mean_visits - 1.0
    if extra_mean > 0:
        r = params.visits_dispersion
        extra = rng.negative_binomial(r, r / (r + extra_mean), size=n)
    else:
        extra = np.zeros(n, dtype=np.int64)
    n_visits = np.minimum(1 + extra, params.max_visits).astype(np.int64)
    ptr = np.concatenate([[0], np.cumsum(n_visits)])
    total = int(ptr[-1])

    # Gaps before each visit (0 before the first), compressed to fit long follow-ups into the
    # window, then accumulated in whole seconds (>= 1 s) so times strictly increase per patient.
    short = rng.random(total) < params.short_gap_fraction
    gaps = np.where(
        short,
        1.0 + rng.exponential(10.0, size=total),
        np.maximum(1.0, rng.lognormal(np.log(params.median_gap_days), 1.1, size=total)),
    )
    first = ptr[:-1]
    gaps[first] = 0.0
    span_days = np.add.reduceat(gaps, first)
    scale = np.minimum(1.0, (window - 1.0) / np.maximum(span_days, 1e-9))
    gap_s = np.maximum(1, np.round(gaps * np.repeat(scale, n_visits) * 86_400)).astype(np.int64)
    gap_s[first] = 0
    cum = np.cumsum(gap_s)
    offset_s = cum - np.repeat(cum[first], n_visits)
    span_s = offset_s[ptr[1:] - 1]
    room_s = np.maximum(window * 86_400 - span_s, 0)
    entry_s = start_day * 86_400 + np.floor(rng.random(n) * room_s).astype(np.int64)
    visit_us = (np.repeat(entry_s, n_visits) + offset_s) * 1_000_000
    rank = ragged_arange(n_visits)

    birth_us = visit_us[first] - np.round(age0 * DAYS_PER_YEAR * 86_400).astype(np.int64) * 1_000_000
    visit_age = (visit_us - np.repeat(birth_us, n_visits)) / (DAYS_PER_YEAR * US_PER_DAY)
    return Cohort(
        female=female,
        n_visits=n_visits,
        visit_ptr=ptr.astype(np.int64),
        birth_us=birth_us,
        visit_us=visit_us,
        visit_patient=np.repeat(np.arange(n, dtype=np.int64), n_visits),
        visit_rank=rank,
        visit_age=visit_age,
    )
