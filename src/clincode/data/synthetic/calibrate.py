"""Age/sex rate tables for the latent processes, calibrated on a reference cohort.

Each process k has an age effect ``g_k(age) = sigmoid(slope_k * (age - center_k) / 10)`` and an
eligibility mask from its restriction (female only, male only, or female aged 15-49 for
pregnancy). Both are evaluated on 5-year age bands and rescaled so that, averaged over the visits
of a reference cohort drawn from the same demographic model, process k is coded at its target
rate ``a_k`` per visit:

- acute: an episode of k starts at a visit of a patient of sex s in band b at Poisson rate
  ``a_k * g_k(b) * mask_k(s, b) / nu_k`` with ``nu_k`` the visit-weighted mean of ``g * mask``;
- chronic: a patient of sex s whose last visit falls in band b has condition k with probability
  ``risk_k(s, b) = a_k * g_k(b) * mask_k(s, b) / nu_k`` (clipped to 0.95); it starts at the
  first visit with probability ``prevalent_fraction``, else at a uniformly chosen visit; it is
  recorded at its onset visit and then at each later visit with ``chronic_record_prob``. Here
  ``nu_k`` is the mean over reference visits of ``g * mask`` (at the patient's last-visit band)
  times the probability that the visit records an existing condition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clincode.data.synthetic.demographics import N_AGE_BANDS, Cohort, age_band, band_midpoints
from clincode.data.synthetic.processes import LatentProcesses

MAX_CHRONIC_RISK = 0.95
PREGNANCY_AGES = (15.0, 50.0)


@dataclass(frozen=True)
class RateTables:
    """Per (sex, age band) tables; sex 0 = female, 1 = male.

    Attributes:
        chronic_ids: (Kc,) process ids of the chronic processes.
        chronic_risk: (2, N_AGE_BANDS, Kc) probability that a patient has each chronic process.
        acute_ids: (Ka,) process ids of the acute processes.
        acute_rate: (2, N_AGE_BANDS, Ka) Poisson rate of an episode of each acute process per visit.
    """

    chronic_ids: np.ndarray
    chronic_risk: np.ndarray
    acute_ids: np.ndarray
    acute_rate: np.ndarray


def age_effect(processes: LatentProcesses) -> np.ndarray:
    """(N_AGE_BANDS, K) g_k at each band's mid-age."""
    z = processes.age_slope[None, :] * (band_midpoints()[:, None] - processes.age_center[None, :]) / 10.0
    return 1.0 / (1.0 + np.exp(-z))


def eligibility(processes: LatentProcesses) -> np.ndarray:
    """(2, N_AGE_BANDS, K) 1.0 where a patient of that sex and age band may have the process."""
    mid = band_midpoints()
    childbearing = (mid >= PREGNANCY_AGES[0]) & (mid < PREGNANCY_AGES[1])
    rows = {
        None: np.ones((2, N_AGE_BANDS)),
        "F": np.stack([np.ones(N_AGE_BANDS), np.zeros(N_AGE_BANDS)]),
        "M": np.stack([np.zeros(N_AGE_BANDS), np.ones(N_AGE_BANDS)]),
        "F_pregnancy": np.stack([childbearing.astype(float), np.zeros(N_AGE_BANDS)]),
    }
    return np.stack([rows[r] for r in processes.restriction], axis=-1)


def _visit_histogram(sex: np.ndarray, band: np.ndarray, weight: np.ndarray, n_visits: int) -> np.ndarray:
    hist = np.zeros((2, N_AGE_BANDS))
    np.add.at(hist, (sex, band), weight)
    return hist / max(n_visits, 1)


def record_probability(cohort: Cohort, prevalent_fraction: float, record_prob: float) -> np.ndarray:
    """(Nv,) P(visit records a chronic condition the patient has) under the onset model."""
    n = cohort.n_visits[cohort.visit_patient].astype(np.float64)
    j = cohort.visit_rank.astype(np.float64)
    p_onset_here = prevalent_fraction * (j == 0) + (1.0 - prevalent_fraction) / n
    p_started = prevalent_fraction + (1.0 - prevalent_fraction) * (j + 1.0) / n
    return p_onset_here + record_prob * (p_started - p_onset_here)


def calibrate(
    processes: LatentProcesses, reference: Cohort, prevalent_fraction: float, record_prob: float
) -> RateTables:
    """Rate tables such that each process is coded at ``processes.rate`` per visit on average."""
    g = age_effect(processes)[None, :, :] * eligibility(processes)  # (2, B, K)
    sex_visit = reference.sex_index()[reference.visit_patient]
    n_ref = int(reference.visit_us.size)

    acute_w = _visit_histogram(sex_visit, age_band(reference.visit_age), np.ones(n_ref), n_ref)
    last_band = age_band(reference.last_visit_age())[reference.visit_patient]
    chronic_w = _visit_histogram(
        sex_visit, last_band, record_probability(reference, prevalent_fraction, record_prob), n_ref
    )

    def scaled(weights: np.ndarray, ids: np.ndarray) -> np.ndarray:
        table = g[:, :, ids]
        nu = np.einsum("sb,sbk->k", weights, table)
        factor = np.divide(processes.rate[ids], nu, out=np.zeros(ids.size), where=nu > 0)
        return table * factor[None, None, :]

    chronic_ids = np.flatnonzero(processes.chronic)
    acute_ids = np.flatnonzero(~processes.chronic)
    return RateTables(
        chronic_ids=chronic_ids,
        chronic_risk=np.minimum(scaled(chronic_w, chronic_ids), MAX_CHRONIC_RISK),
        acute_ids=acute_ids,
        acute_rate=scaled(acute_w, acute_ids),
    )
