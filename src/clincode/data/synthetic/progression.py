"""Disease progression between chronic latent processes (``progression="clinical"``).

With ``progression="none"`` (the default, generator 1.0 as documented) a patient's chronic
conditions are drawn independently of each other. With ``"clinical"`` an active chronic condition
multiplies the onset hazard of others through a sparse matrix of relative risks taken from
published cohorts (the ``EDGES`` below; docs/methods.md lists them too):

| source -> target | RR used | published figure |
|---|---|---|
| diabetes -> chronic kidney disease | 2.6 | OR 2.60 for new-onset kidney disease, Framingham Offspring (Fox et al., JAMA 2004;291:844-850) |
| hypertension -> chronic kidney disease | 1.6 | OR 1.57, same study |
| hypertension -> heart failure | 2.5 | hazard about 2-fold in men, 3-fold in women, Framingham (Levy et al., JAMA 1996;275:1557-1562) |
| diabetes -> heart failure | 2.5 | more than twice in men, fivefold in women, Framingham (Kannel et al., Am J Cardiol 1974;34:29-34) |
| hypertension -> stroke | 3.0 | stroke incidence "more than trebled", Framingham (Wolf et al., Stroke 1991;22:983-988) |
| atrial fibrillation -> stroke | 5.0 | "near fivefold excess", same study |
| heart failure -> stroke | 4.0 | "more than fourfold excess", same study |
| obesity -> diabetes | 4.0 | overweight vs normal BMI RR 3.92 (women), obesity stronger still (Guh et al., BMC Public Health 2009;9:88) |
| obesity -> hypertension | 2.0 | obese vs normal BMI RR about 2 (1.84 men, 2.42 women), same meta-analysis |
| COPD -> heart failure | 2.5 | adjusted prevalence OR 3.84 for CHF, Saskatchewan COPD cohort (Curkendall et al., Ann Epidemiol 2006;16:63-70); a hazard ratio is smaller, so 2.5 |

Concepts to processes [ours]. A concept is a set of ICD-10-CM code prefixes; a chronic latent
process carries a concept when at least ``CONCEPT_SHARE`` of its emission mass
(``sum_c e[k, c]``) falls on the concept's codes (the curated cardiometabolic cluster, for
instance, carries hypertension, diabetes and obesity at once). Each concept edge becomes every
(source process, target process) pair with the source carrying the source concept and the target
the target concept, a process never acting on itself; a pair reached by several edges keeps the
largest RR. Which pairs exist depends on the code universe; ``true_progression.parquet`` lists them.

Onsets [ours]. Without progression a condition of risk R (by sex and age band at the last visit)
is present with probability R, from the first visit with probability ``prevalent_fraction`` = p,
else from a uniformly chosen visit of the patient's n. As a discrete-time hazard: at visit 0,
``R (p + (1 - p) / n)``; at visit j >= 1, ``h_j = R (1 - p) / n / (1 - R (p + (1 - p) j / n))``.
With progression the conditions that are targets of the matrix are drawn visit by visit
(vectorised over patients) with hazard ``min(1, s_k h_j prod_{sources i active before visit j} RR_ik)``
(visit 0 keeps its base hazard: conditions present at entry are drawn independently); the others
as without progression. The scale ``s_k`` of each target is calibrated on the generator's
reference cohort so that the share of patients who ever have it stays as without progression
(fixed-point iteration with common random numbers).
"""

from __future__ import annotations

__all__ = ["CONCEPTS", "EDGES", "PROGRESSION_MODES", "ProgressionMatrix", "progression_matrix"]

from dataclasses import dataclass

import numpy as np
import polars as pl

from clincode.data.synthetic.calibrate import RateTables
from clincode.data.synthetic.demographics import Cohort, age_band
from clincode.data.synthetic.params import PROGRESSION_MODES
from clincode.data.synthetic.processes import LatentProcesses
from clincode.data.synthetic.universe import PREFIX, CodeUniverse

CONCEPT_SHARE = 0.25
CALIBRATION_ROUNDS = 6

# Dotted ICD-10-CM body prefixes of each concept.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "diabetes": ("E08", "E09", "E10", "E11", "E13"),
    "hypertension": ("I10", "I11", "I12", "I13", "I15", "I16"),
    "obesity": ("E66", "Z68.3", "Z68.4"),
    "chronic kidney disease": ("N18", "I12", "I13"),
    "heart failure": ("I50", "I11.0", "I13.0", "I13.2"),
    "atrial fibrillation": ("I48",),
    "stroke": ("I63", "I69", "Z86.73"),
    "COPD": ("J43", "J44"),
}


@dataclass(frozen=True)
class Edge:
    """A published relative risk of ``target`` onset given ``source`` (concept names)."""

    source: str
    target: str
    relative_risk: float
    reference: str


FOX_2004 = "Fox et al., Predictors of new-onset kidney disease in a community-based population, JAMA 2004;291:844-850"
LEVY_1996 = "Levy et al., The progression from hypertension to congestive heart failure, JAMA 1996;275:1557-1562"
KANNEL_1974 = "Kannel et al., Role of diabetes in congestive heart failure: the Framingham study, Am J Cardiol 1974;34:29-34"
WOLF_1991 = "Wolf et al., Atrial fibrillation as an independent risk factor for stroke: the Framingham Study, Stroke 1991;22:983-988"
GUH_2009 = "Guh et al., The incidence of co-morbidities related to obesity and overweight, BMC Public Health 2009;9:88"
CURKENDALL_2006 = "Curkendall et al., Cardiovascular disease in patients with COPD, Saskatchewan Canada, Ann Epidemiol 2006;16:63-70"

EDGES: tuple[Edge, ...] = (
    Edge("diabetes", "chronic kidney disease", 2.6, FOX_2004),
    Edge("hypertension", "chronic kidney disease", 1.6, FOX_2004),
    Edge("hypertension", "heart failure", 2.5, LEVY_1996),
    Edge("diabetes", "heart failure", 2.5, KANNEL_1974),
    Edge("hypertension", "stroke", 3.0, WOLF_1991),
    Edge("atrial fibrillation", "stroke", 5.0, WOLF_1991),
    Edge("heart failure", "stroke", 4.0, WOLF_1991),
    Edge("obesity", "diabetes", 4.0, GUH_2009),
    Edge("obesity", "hypertension", 2.0, GUH_2009),
    Edge("COPD", "heart failure", 2.5, CURKENDALL_2006),
)


@dataclass(frozen=True)
class ProgressionMatrix:
    """P process pairs: ``target`` onset hazard times ``relative_risk`` once ``source`` is active.

    Attributes:
        source, target: (P,) int64 process ids (chronic, source != target), sorted by (target, source).
        relative_risk: (P,) float64 > 1.
        edge: (P,) the concept edge each pair comes from (``"diabetes -> chronic kidney disease"``).
        reference: (P,) the publication of its RR.
        scale: (n_targets,) calibrated hazard scale ``s_k`` of each of ``targets()`` (1.0 before calibration).
    """

    source: np.ndarray
    target: np.ndarray
    relative_risk: np.ndarray
    edge: tuple[str, ...]
    reference: tuple[str, ...]
    scale: np.ndarray

    def targets(self) -> np.ndarray:
        """(T,) sorted distinct target process ids."""
        return np.unique(self.target)

    def involved(self) -> np.ndarray:
        """(I,) sorted distinct process ids that are a source or a target."""
        return np.unique(np.concatenate([self.source, self.target]))


def concept_carriers(universe: CodeUniverse, proc: LatentProcesses) -> dict[str, np.ndarray]:
    """Concept name -> (n,) chronic process ids carrying it (share of emission mass >= CONCEPT_SHARE)."""
    sizes = np.diff(proc.member_ptr)
    member_process = np.repeat(np.arange(len(proc)), sizes)
    total = np.bincount(member_process, weights=proc.member_prob, minlength=len(proc))
    bodies = [universe.codes[c][len(PREFIX):] for c in proc.member_code]
    out = {}
    for name, prefixes in CONCEPTS.items():
        inside = np.array([b.startswith(prefixes) for b in bodies], dtype=bool)
        mass = np.bincount(member_process[inside], weights=proc.member_prob[inside], minlength=len(proc))
        share = np.divide(mass, total, out=np.zeros(len(proc)), where=total > 0)
        out[name] = np.flatnonzero((share >= CONCEPT_SHARE) & proc.chronic)
    return out


def progression_matrix(universe: CodeUniverse, proc: LatentProcesses) -> ProgressionMatrix:
    """The process pairs of ``EDGES`` in this universe (uncalibrated: scale 1)."""
    carriers = concept_carriers(universe, proc)
    best: dict[tuple[int, int], Edge] = {}
    for edge in EDGES:
        for s in carriers[edge.source]:
            for t in carriers[edge.target]:
                key = (int(s), int(t))
                if s != t and (key not in best or edge.relative_risk > best[key].relative_risk):
                    best[key] = edge
    keys = sorted(best, key=lambda st: (st[1], st[0]))
    edges = [best[k] for k in keys]
    source = np.array([k[0] for k in keys], dtype=np.int64)
    target = np.array([k[1] for k in keys], dtype=np.int64)
    return ProgressionMatrix(
        source=source,
        target=target,
        relative_risk=np.array([e.relative_risk for e in edges], dtype=np.float64),
        edge=tuple(f"{e.source} -> {e.target}" for e in edges),
        reference=tuple(e.reference for e in edges),
        scale=np.ones(np.unique(target).size),
    )


def progression_onsets(
    cohort: Cohort,
    tables: RateTables,
    matrix: ProgressionMatrix,
    prevalent_fraction: float,
    fixed: tuple[np.ndarray, np.ndarray, np.ndarray],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Onsets of the target processes, visit by visit, given the other conditions ``fixed``.

    Args:
        fixed: (patient, process, onset) of the conditions of non-target processes.

    Returns:
        (patient, process, onset) of the target conditions drawn.
    """
    targets, involved = matrix.targets(), matrix.involved()
    n, n_t = cohort.n_patients, targets.size
    column = {int(k): i for i, k in enumerate(tables.chronic_ids)}
    risk = tables.chronic_risk[cohort.sex_index(), age_band(cohort.last_visit_age())]  # (S, Kc)
    R = risk[:, [column[int(k)] for k in targets]]  # (S, T)
    never = np.iinfo(np.int64).max
    slot = {int(k): i for i, k in enumerate(involved)}
    onset = np.full((n, involved.size), never, dtype=np.int64)
    f_patient, f_process, f_onset = fixed
    keep = np.isin(f_process, involved)
    onset[f_patient[keep], [slot[int(k)] for k in f_process[keep]]] = f_onset[keep]
    log_rr = np.zeros((involved.size, n_t))
    t_slot = {int(k): i for i, k in enumerate(targets)}
    for s, t, rr in zip(matrix.source, matrix.target, matrix.relative_risk, strict=True):
        log_rr[slot[int(s)], t_slot[int(t)]] = np.log(rr)
    target_slots = np.array([slot[int(k)] for k in targets], dtype=np.int64)

    p = prevalent_fraction
    n_vis = cohort.n_visits.astype(np.float64)
    for j in range(int(cohort.n_visits.max(initial=0))):
        idx = np.flatnonzero(cohort.n_visits > j)
        m = n_vis[idx, None]
        r = R[idx]
        if j == 0:
            hazard = r * (p + (1.0 - p) / m)
        else:
            survival = np.maximum(1.0 - r * (p + (1.0 - p) * j / m), 1e-12)
            multiplier = np.exp((onset[idx] < j).astype(np.float64) @ log_rr)
            hazard = np.minimum(1.0, matrix.scale[None, :] * r * (1.0 - p) / m / survival * multiplier)
        start = (onset[idx][:, target_slots] == never) & (rng.random((idx.size, n_t)) < hazard)
        rows, cols = np.nonzero(start)
        onset[idx[rows], target_slots[cols]] = j
    sub = onset[:, target_slots]
    patient, which = np.nonzero(sub != never)
    return patient.astype(np.int64), targets[which], sub[patient, which]


def calibrate_scale(
    matrix: ProgressionMatrix,
    reference: Cohort,
    tables: RateTables,
    prevalent_fraction: float,
    drawn: tuple[np.ndarray, np.ndarray, np.ndarray],
    seed: int,
) -> ProgressionMatrix:
    """``matrix`` with hazard scales so that each target's share of patients ever having it on the
    reference cohort equals its share without progression (mean risk R).

    Args:
        drawn: (patient, process, onset) of the reference cohort's conditions drawn without
            progression; those of non-target processes are kept, the targets redrawn each round
            with the same random numbers (common random numbers make the fixed point smooth).
    """
    targets = matrix.targets()
    if targets.size == 0:
        return matrix
    patient, process, onset = drawn
    fixed = ~np.isin(process, targets)
    fixed_state = (patient[fixed], process[fixed], onset[fixed])
    column = {int(k): i for i, k in enumerate(tables.chronic_ids)}
    risk = tables.chronic_risk[reference.sex_index(), age_band(reference.last_visit_age())]
    R = risk[:, [column[int(k)] for k in targets]]
    wanted = R.mean(axis=0)
    n = reference.n_visits[:, None].astype(np.float64)
    at_entry = (R * (prevalent_fraction + (1.0 - prevalent_fraction) / n)).mean(axis=0)
    scale = matrix.scale.copy()
    for _ in range(CALIBRATION_ROUNDS):
        current = ProgressionMatrix(matrix.source, matrix.target, matrix.relative_risk, matrix.edge, matrix.reference, scale)
        draw = np.random.default_rng([seed, 6])  # the same numbers every round
        _, got_process, _ = progression_onsets(reference, tables, current, prevalent_fraction, fixed_state, draw)
        got = np.array([(got_process == k).sum() for k in targets]) / reference.n_patients
        later_wanted = np.maximum(wanted - at_entry, 1e-12)
        later_got = np.maximum(got - at_entry, 1e-12)
        scale = scale * later_wanted / later_got
    return ProgressionMatrix(matrix.source, matrix.target, matrix.relative_risk, matrix.edge, matrix.reference, scale)


def progression_table(universe: CodeUniverse, proc: LatentProcesses, matrix: ProgressionMatrix) -> pl.DataFrame:
    """``true_progression.parquet``: one row per (source, target) process pair with its RR."""
    def members(k: int) -> list[str]:
        return [universe.codes[c] for c in proc.member_code[proc.member_ptr[k] : proc.member_ptr[k + 1]]]

    t_index = {int(k): i for i, k in enumerate(matrix.targets())}
    return pl.DataFrame(
        {
            "process_from_id": pl.Series(matrix.source, dtype=pl.Int32),
            "process_from": pl.Series([proc.names[k] for k in matrix.source], dtype=pl.String),
            "process_to_id": pl.Series(matrix.target, dtype=pl.Int32),
            "process_to": pl.Series([proc.names[k] for k in matrix.target], dtype=pl.String),
            "relative_risk": pl.Series(matrix.relative_risk, dtype=pl.Float64),
            "edge": pl.Series(list(matrix.edge), dtype=pl.String),
            "reference": pl.Series(list(matrix.reference), dtype=pl.String),
            "hazard_scale_to": pl.Series([matrix.scale[t_index[int(t)]] for t in matrix.target], dtype=pl.Float64),
            "codes_from": pl.Series([members(int(k)) for k in matrix.source], dtype=pl.List(pl.String)),
            "codes_to": pl.Series([members(int(k)) for k in matrix.target], dtype=pl.List(pl.String)),
        }
    )
