"""Diagnosis codes of one shard: chronic conditions, acute episodes and background codes.

All steps are vectorised over the shard (no per-patient Python loop), so a shard of 50k patients
takes seconds and memory depends on the shard size only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clincode.data.synthetic.calibrate import RateTables
from clincode.data.synthetic.demographics import N_AGE_BANDS, Cohort, age_band
from clincode.data.synthetic.processes import LatentProcesses
from clincode.data.synthetic.ragged import draw_categorical, emit_members, ragged_arange

# Patients x chronic processes drawn per block of the dense risk comparison (bounds memory).
_RISK_BLOCK = 4_000_000


@dataclass(frozen=True)
class VisitCodes:
    """Distinct (visit, code) pairs of a shard, sorted by visit then code id.

    Attributes:
        visit: (E,) int64 visit row in the shard's :class:`Cohort`.
        code: (E,) int64 code id in the universe.
    """

    visit: np.ndarray
    code: np.ndarray


def _chronic(cohort: Cohort, proc: LatentProcesses, tables: RateTables, record_prob: float,
             prevalent_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(visit, code) rows from chronic conditions: a fixed code set per patient, recorded at onset
    and then at each later visit with ``record_prob``."""
    n_chronic = tables.chronic_ids.size
    if n_chronic == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    sex = cohort.sex_index()
    band = age_band(cohort.last_visit_age())
    risk = tables.chronic_risk.astype(np.float32)
    block = max(1, _RISK_BLOCK // n_chronic)
    patients, which = [], []
    for lo in range(0, cohort.n_patients, block):
        hi = min(lo + block, cohort.n_patients)
        has = rng.random((hi - lo, n_chronic), dtype=np.float32) < risk[sex[lo:hi], band[lo:hi]]
        p, k = np.nonzero(has)
        patients.append(p + lo)
        which.append(k)
    patient = np.concatenate(patients).astype(np.int64)
    process = tables.chronic_ids[np.concatenate(which)]

    n_vis = cohort.n_visits[patient]
    prevalent = rng.random(patient.size) < prevalent_fraction
    onset = np.where(prevalent, 0, rng.integers(0, n_vis))
    active = n_vis - onset  # visits from onset to the last one
    active_ptr = np.concatenate([[0], np.cumsum(active)])
    recorded = rng.random(int(active_ptr[-1])) < record_prob
    recorded[active_ptr[:-1]] = True  # a condition is coded when it is diagnosed

    row, code = emit_members(process, proc.member_ptr, proc.member_code, proc.member_prob, rng)
    step = ragged_arange(active[row])
    keep = recorded[np.repeat(active_ptr[row], active[row]) + step]
    first_visit = cohort.visit_ptr[patient] + onset
    visit = np.repeat(first_visit[row], active[row]) + step
    return visit[keep], np.repeat(code, active[row])[keep]


def _acute(cohort: Cohort, proc: LatentProcesses, tables: RateTables,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(visit, code) rows from acute episodes, Poisson per visit with age/sex-specific rates."""
    n_acute = tables.acute_ids.size
    if n_acute == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    group = cohort.sex_index()[cohort.visit_patient] * N_AGE_BANDS + age_band(cohort.visit_age)
    rates = tables.acute_rate.reshape(2 * N_AGE_BANDS, n_acute)
    n_episodes = rng.poisson(rates.sum(axis=1)[group])
    episode_visit = np.repeat(np.arange(group.size, dtype=np.int64), n_episodes)
    episode_group = group[episode_visit]
    # One categorical draw per episode within its (sex, band) row: search the flattened cumulative
    # table between the row's bounds.
    cumulative = np.cumsum(rates.ravel())
    row_start = np.concatenate([[0.0], cumulative])[episode_group * n_acute]
    row_total = rates.sum(axis=1)[episode_group]
    u = row_start + rng.random(episode_visit.size) * row_total
    flat = np.searchsorted(cumulative, u, side="right")
    flat = np.clip(flat, episode_group * n_acute, episode_group * n_acute + n_acute - 1)
    local = flat - episode_group * n_acute
    eligible = rates[episode_group, local] > 0  # guards float edge cases at row ends
    episode_visit, local = episode_visit[eligible], local[eligible]
    row, code = emit_members(tables.acute_ids[local], proc.member_ptr, proc.member_code, proc.member_prob, rng)
    return episode_visit[row], code


def _background(visits: np.ndarray, proc: LatentProcesses, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(visit, code) rows of codes drawn independently of any process, Poisson per visit."""
    total = float(proc.background.sum())
    if total <= 0 or visits.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    n = rng.poisson(total, size=visits.size)
    visit = np.repeat(visits, n)
    code = draw_categorical(np.cumsum(proc.background), visit.size, rng)
    ok = proc.background[code] > 0
    return visit[ok], code[ok]


def _at_least_one(visits: np.ndarray, proc: LatentProcesses, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One code for each of ``visits`` (visits left without any code), drawn among the codes
    anyone may carry in proportion to their target frequency."""
    code = draw_categorical(np.cumsum(proc.filler), visits.size, rng)
    return visits, code


def simulate_codes(
    cohort: Cohort,
    proc: LatentProcesses,
    tables: RateTables,
    record_prob: float,
    prevalent_fraction: float,
    rng: np.random.Generator,
) -> VisitCodes:
    """All diagnosis codes of a shard; every visit gets at least one code."""
    n_codes = proc.background.size
    all_visits = np.arange(cohort.visit_us.size, dtype=np.int64)
    parts = [
        _chronic(cohort, proc, tables, record_prob, prevalent_fraction, rng),
        _acute(cohort, proc, tables, rng),
        _background(all_visits, proc, rng),
    ]
    visit = np.concatenate([p[0] for p in parts])
    code = np.concatenate([p[1] for p in parts])
    empty = np.flatnonzero(np.bincount(visit, minlength=all_visits.size) == 0)
    extra_visit, extra_code = _at_least_one(empty, proc, rng)
    key = np.unique(np.concatenate([visit, extra_visit]) * n_codes + np.concatenate([code, extra_code]))
    return VisitCodes(visit=key // n_codes, code=key % n_codes)
