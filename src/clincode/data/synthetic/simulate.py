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
from clincode.data.synthetic.progression import ProgressionMatrix, progression_onsets
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


@dataclass(frozen=True)
class ChronicConditions:
    """The chronic conditions of a shard's patients: the latent state behind every chronic code.

    Each condition is drawn once per patient and keeps a fixed code set (one emission of its
    process); it is recorded at its onset visit and then at each later visit with the record
    probability (those per-visit draws are not part of this state).

    Attributes:
        patient: (C,) int64 patient row in the shard's :class:`Cohort`, non-decreasing.
        process: (C,) int64 process id.
        onset: (C,) int64 visit rank (position within the patient) of the onset visit.
        code_ptr: (C + 1,) int64 CSR offsets; the code set of condition i is
            ``code[code_ptr[i]:code_ptr[i + 1]]`` (may be empty: the condition is then never coded).
        code: (M,) int64 code ids.
    """

    patient: np.ndarray
    process: np.ndarray
    onset: np.ndarray
    code_ptr: np.ndarray
    code: np.ndarray

    def __len__(self) -> int:
        return int(self.patient.size)

    @staticmethod
    def empty() -> ChronicConditions:
        none = np.zeros(0, np.int64)
        return ChronicConditions(none, none, none, np.zeros(1, np.int64), none)


def draw_chronic(cohort: Cohort, proc: LatentProcesses, tables: RateTables, record_prob: float,
                 prevalent_fraction: float, rng: np.random.Generator) -> tuple[ChronicConditions, np.ndarray]:  # fmt: skip
    """Chronic conditions of a shard and the per-visit record flags (in the generator's draw order).

    Returns:
        (conditions, recorded): ``recorded`` is (sum of active visits,) bool, condition by
        condition, for each visit from the onset to the patient's last one (True at the onset).
    """
    if tables.chronic_ids.size == 0:
        return ChronicConditions.empty(), np.zeros(0, dtype=bool)
    patient, process = draw_presence(cohort, tables, rng)
    onset = draw_onsets(cohort, patient, prevalent_fraction, rng)
    recorded = record_flags(cohort.n_visits[patient] - onset, record_prob, rng)
    return _with_code_sets(patient, process, onset, proc, rng), recorded


def draw_chronic_progression(
    cohort: Cohort,
    proc: LatentProcesses,
    tables: RateTables,
    record_prob: float,
    prevalent_fraction: float,
    matrix: ProgressionMatrix,
    latent_rng: np.random.Generator,
    rng: np.random.Generator,
) -> tuple[ChronicConditions, np.ndarray]:
    """As :func:`draw_chronic` with disease progression (:mod:`progression`): the conditions of
    the matrix's target processes are drawn visit by visit from ``latent_rng``, which draws the
    whole latent chronic state; the record flags come from ``rng``.
    """
    if tables.chronic_ids.size == 0:
        return ChronicConditions.empty(), np.zeros(0, dtype=bool)
    patient, process = draw_presence(cohort, tables, latent_rng)
    onset = draw_onsets(cohort, patient, prevalent_fraction, latent_rng)
    fixed = ~np.isin(process, matrix.targets())
    state = (patient[fixed], process[fixed], onset[fixed])
    t_patient, t_process, t_onset = progression_onsets(cohort, tables, matrix, prevalent_fraction, state, latent_rng)
    patient = np.concatenate([patient[fixed], t_patient])
    process = np.concatenate([process[fixed], t_process])
    onset = np.concatenate([onset[fixed], t_onset])
    order = np.lexsort((process, patient))
    patient, process, onset = patient[order], process[order], onset[order]
    conditions = _with_code_sets(patient, process, onset, proc, latent_rng)
    return conditions, record_flags(cohort.n_visits[patient] - onset, record_prob, rng)


def draw_presence(cohort: Cohort, tables: RateTables, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(patient, process) of every chronic condition: process k with probability
    ``chronic_risk[sex, band at the last visit, k]``, sorted by patient then process.
    """
    n_chronic = tables.chronic_ids.size
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
    return np.concatenate(patients).astype(np.int64), tables.chronic_ids[np.concatenate(which)].astype(np.int64)


def draw_onsets(cohort: Cohort, patient: np.ndarray, prevalent_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """(C,) onset visit rank of each condition: 0 with ``prevalent_fraction``, else uniform."""
    n_vis = cohort.n_visits[patient]
    prevalent = rng.random(patient.size) < prevalent_fraction
    return np.where(prevalent, 0, rng.integers(0, n_vis)).astype(np.int64)


def _with_code_sets(patient: np.ndarray, process: np.ndarray, onset: np.ndarray, proc: LatentProcesses,
                    rng: np.random.Generator) -> ChronicConditions:  # fmt: skip
    """The conditions with their fixed code sets (one emission of each condition's process)."""
    row, code = emit_members(process, proc.member_ptr, proc.member_code, proc.member_prob, rng)
    code_ptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=patient.size))]).astype(np.int64)
    return ChronicConditions(patient, process, onset, code_ptr, code)


def record_flags(active: np.ndarray, record_prob: float, rng: np.random.Generator) -> np.ndarray:
    """(sum(active),) bool: whether each of the ``active[i]`` visits of condition i from its onset
    on records it; always at the onset (a condition is coded when it is diagnosed).
    """
    active_ptr = np.concatenate([[0], np.cumsum(active)])
    recorded = rng.random(int(active_ptr[-1])) < record_prob
    recorded[active_ptr[:-1][active > 0]] = True
    return recorded


def chronic_events(cohort: Cohort, conditions: ChronicConditions, recorded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(visit, code) rows from chronic conditions: each condition's code set at its recorded visits."""
    if len(conditions) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    active = cohort.n_visits[conditions.patient] - conditions.onset  # visits from onset to the last one
    active_ptr = np.concatenate([[0], np.cumsum(active)])
    row = np.repeat(np.arange(len(conditions), dtype=np.int64), np.diff(conditions.code_ptr))
    code = conditions.code
    step = ragged_arange(active[row])
    keep = recorded[np.repeat(active_ptr[row], active[row]) + step]
    first_visit = cohort.visit_ptr[conditions.patient] + conditions.onset
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
    anyone may carry in proportion to their target frequency.
    """
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
    conditions, recorded = draw_chronic(cohort, proc, tables, record_prob, prevalent_fraction, rng)
    return visit_codes(cohort, conditions, recorded, proc, tables, rng)


def visit_codes(
    cohort: Cohort,
    conditions: ChronicConditions,
    recorded: np.ndarray,
    proc: LatentProcesses,
    tables: RateTables,
    rng: np.random.Generator,
) -> VisitCodes:
    """The codes of every visit given the latent chronic state: recorded chronic codes, acute
    episodes, background codes, and one filler code for each visit left without any.
    """
    n_codes = proc.background.size
    all_visits = np.arange(cohort.visit_us.size, dtype=np.int64)
    parts = [
        chronic_events(cohort, conditions, recorded),
        _acute(cohort, proc, tables, rng),
        _background(all_visits, proc, rng),
    ]
    visit = np.concatenate([p[0] for p in parts])
    code = np.concatenate([p[1] for p in parts])
    empty = np.flatnonzero(np.bincount(visit, minlength=all_visits.size) == 0)
    extra_visit, extra_code = _at_least_one(empty, proc, rng)
    key = np.unique(np.concatenate([visit, extra_visit]) * n_codes + np.concatenate([code, extra_code]))
    return VisitCodes(visit=key // n_codes, code=key % n_codes)
