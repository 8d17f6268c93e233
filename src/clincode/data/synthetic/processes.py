"""Latent comorbidity processes of the synthetic cohort and their emission probabilities.

A process is a set of codes that are recorded together when the process is active:
- curated clinical clusters (cardiometabolic, heart failure / AF, sepsis / AKI, pregnancy, ...);
- automatic processes: the universe's codes grouped by single-level CCS category (chapter when a
  code has no CCS), one group per (category, sex/pregnancy restriction, HCUP chronic indicator),
  cut into contiguous chunks of at most ``max_process_size`` codes; singleton groups are pooled
  per chapter. A chronic group is a chronic process, the others acute.
Curated codes also sit in their automatic process, so processes overlap across chapters.

Emission. When process k is activated (a chronic condition of a patient, or an acute episode at
a visit) each member code c is included independently with probability ``e[k, c]``.

Calibration. Each code's target per-visit rate ``t_c`` (from the universe) is split into a
background part ``beta * t_c`` (codes drawn independently at each visit; beta = 0 for chronic
codes and for sex- or pregnancy-restricted codes) and process parts ``t_kc`` (curated 60 % /
automatic 40 % when a code has both). For a process with member mass ``T_k = sum_c t_kc`` and
``n_k`` members we choose the average per-visit activation rate
``a_k = max(T_k / mu_k, max_c t_kc / 0.9)`` with ``mu_k = min(codes_per_activation, 0.3 + 0.5 n_k)``
expected codes per activation, and ``e[k, c] = t_kc / a_k`` (<= 0.9), so that
``a_k * e[k, c] = t_kc``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from clincode.codes import ccs_description, describe
from clincode.data.synthetic.clusters import CLUSTERS
from clincode.data.synthetic.universe import PREFIX, CodeUniverse

MAX_EMISSION = 0.9
CURATED_SHARE = 0.6  # of a code's process mass, when it is in a curated cluster and an automatic process


@dataclass(frozen=True)
class LatentProcesses:
    """K latent processes in CSR form over the universe's code ids.

    Attributes:
        names: (K,) readable names.
        chronic: (K,) True = chronic (persists once started), False = acute (per-visit episodes).
        restriction: (K,) None, "F", "M" or "F_pregnancy" (female, aged 15-49 at the visit).
        age_center, age_slope: (K,) age effect ``sigmoid(slope * (age - center) / 10)``.
        rate: (K,) a_k, the population-average rate per visit at which the process is coded.
        member_ptr: (K + 1,) CSR offsets; members of k are ``member_ptr[k]:member_ptr[k + 1]``.
        member_code: (M,) code ids; member_prob: (M,) emission probabilities e[k, c].
        background: (V,) per-visit rate of each code drawn outside any process.
        filler: (V,) weights of the code given to a visit that got none (unrestricted acute-type codes).
    """

    names: tuple[str, ...]
    chronic: np.ndarray
    restriction: tuple[str | None, ...]
    age_center: np.ndarray
    age_slope: np.ndarray
    rate: np.ndarray
    member_ptr: np.ndarray
    member_code: np.ndarray
    member_prob: np.ndarray
    background: np.ndarray
    filler: np.ndarray

    def __len__(self) -> int:
        return len(self.names)


@dataclass
class _Draft:
    name: str
    chronic: bool
    restriction: str | None
    center: float
    slope: float
    members: list[int]
    curated: bool


def _common_restriction(name: str, restrictions: list[str | None]) -> str | None:
    found = sorted({r for r in restrictions if r is not None})
    if len(found) > 1:
        raise ValueError(f"process {name!r} mixes codes restricted to {found}; a process needs one restriction.")
    return found[0] if found else None


def _curated_drafts(universe: CodeUniverse) -> list[_Draft]:
    index = universe.index()
    drafts = []
    for cluster in CLUSTERS:
        members = [index[PREFIX + b] for b in cluster.codes if PREFIX + b in index]
        if not members:
            continue
        restriction = _common_restriction(cluster.name, [universe.restriction[m] for m in members])
        chronic = cluster.kind == "chronic" and restriction != "F_pregnancy"
        drafts.append(_Draft(cluster.name, chronic, restriction, cluster.age_center, cluster.age_slope, members, True))
    return drafts


def _group_name(group: str) -> str:
    if group.startswith("CCS//"):
        return f"{group}: {ccs_description(group)}"
    return f"{group}: {describe(group)}"


def _chunks(members: list[int], max_size: int) -> list[list[int]]:
    n_chunks = math.ceil(len(members) / max_size)
    bounds = np.linspace(0, len(members), n_chunks + 1).round().astype(int)
    return [members[bounds[i] : bounds[i + 1]] for i in range(n_chunks)]


def _automatic_drafts(universe: CodeUniverse, max_size: int, rng: np.random.Generator) -> list[_Draft]:
    # Key: (grouping, restriction, chronic?). Splitting a CCS category by HCUP's chronic indicator
    # keeps each code's process kind equal to its own: E11.9 is never an "acute episode".
    groups: dict[tuple[str, str, bool], list[int]] = {}
    for c, (group, restriction) in enumerate(zip(universe.group, universe.restriction, strict=True)):
        chronic = bool(universe.chronic[c]) and restriction != "F_pregnancy"
        groups.setdefault((group, restriction or "", chronic), []).append(c)
    kept: dict[tuple[str, str, bool], list[int]] = {}
    pooled: dict[tuple[str, str, bool], list[int]] = {}
    for (group, restriction, chronic), members in groups.items():
        if len(members) == 1:  # singletons are pooled per chapter
            pooled.setdefault((universe.chapter[members[0]], restriction, chronic), []).extend(members)
        else:
            kept[(group, restriction, chronic)] = members
    for key, members in pooled.items():
        kept.setdefault(key, []).extend(members)
    drafts = []
    for (group, restriction, chronic), members in sorted(kept.items()):
        chunks = _chunks(sorted(members), max_size)
        for part, chunk in enumerate(chunks, start=1):
            # [ours] chronic conditions rise with age; acute ones are milder and may fall with age.
            center = float(rng.uniform(45.0, 72.0) if chronic else rng.uniform(20.0, 65.0))
            slope = float(rng.uniform(0.6, 1.4) if chronic else rng.uniform(-0.4, 0.6))
            kind = "chronic" if chronic else "acute"
            suffix = f" [{kind} {part}/{len(chunks)}]" if len(chunks) > 1 else f" [{kind}]"
            drafts.append(
                _Draft(_group_name(group) + suffix, chronic, restriction or None, center, slope, chunk, False)
            )
    return drafts


def build_processes(
    universe: CodeUniverse,
    max_process_size: int,
    background_fraction: float,
    codes_per_activation: float,
    rng: np.random.Generator,
) -> LatentProcesses:
    """Latent processes over ``universe`` with emission probabilities calibrated to its rates."""
    drafts = _curated_drafts(universe) + _automatic_drafts(universe, max_process_size, rng)
    n_codes = len(universe)
    restricted = np.array([r is not None for r in universe.restriction])
    if restricted.all():
        raise ValueError(
            "every code of the universe is sex- or pregnancy-restricted; "
            "the generator needs some codes that anyone may carry."
        )
    # Background noise only for acute-type codes anyone may carry: a chronic code (HCUP CCI) drawn
    # at random visits would give young patients hypertension or diabetes far too often.
    beta = np.where(restricted | universe.chronic, 0.0, background_fraction)
    process_mass = universe.rate * (1.0 - beta)
    n_curated = np.zeros(n_codes)
    for d in drafts:
        if d.curated:
            n_curated[d.members] += 1

    names, chronic, restriction, centers, slopes, rates = [], [], [], [], [], []
    ptr, member_code, member_prob = [0], [], []
    for d in drafts:
        members = np.array(d.members, dtype=np.int64)
        if d.curated:
            # Every code is also in exactly one automatic process, which keeps the other share.
            t = process_mass[members] * CURATED_SHARE / n_curated[members]
        else:
            t = process_mass[members] * np.where(n_curated[members] > 0, 1.0 - CURATED_SHARE, 1.0)
        mu = min(codes_per_activation, 0.3 + 0.5 * len(members))
        a = max(t.sum() / mu, t.max() / MAX_EMISSION)
        names.append(d.name)
        chronic.append(d.chronic)
        restriction.append(d.restriction)
        centers.append(d.center)
        slopes.append(d.slope)
        rates.append(a)
        member_code.append(members)
        member_prob.append(t / a)
        ptr.append(ptr[-1] + len(members))
    return LatentProcesses(
        names=tuple(names),
        chronic=np.array(chronic, dtype=bool),
        restriction=tuple(restriction),
        age_center=np.array(centers),
        age_slope=np.array(slopes),
        rate=np.array(rates),
        member_ptr=np.array(ptr, dtype=np.int64),
        member_code=np.concatenate(member_code).astype(np.int64),
        member_prob=np.concatenate(member_prob),
        background=universe.rate * beta,
        filler=_filler_weights(universe.rate, restricted, universe.chronic),
    )


def _filler_weights(rate: np.ndarray, restricted: np.ndarray, chronic: np.ndarray) -> np.ndarray:
    """Weights of the one code given to a visit that got none: acute-type codes anyone may carry
    (a random chronic code would hand children hypertension), else any unrestricted code.
    """
    acute = np.where(restricted | chronic, 0.0, rate)
    return acute if acute.sum() > 0 else np.where(restricted, 0.0, rate)


def true_coupling(processes: LatentProcesses) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generative coupling of every code pair that shares at least one process.

    ``coupling(a, b) = sum over processes k containing both of e[k, a] * e[k, b]``: the probability
    that one activation of k records both codes, summed over the shared processes. Pairs sharing no
    process have coupling exactly 0 and are not returned.

    Returns:
        (a, b, coupling): (P,) code ids with a < b, and (P,) float64 couplings > 0, sorted by (a, b).
    """
    rows_a, rows_b, values = [], [], []
    for k in range(len(processes)):
        lo, hi = processes.member_ptr[k], processes.member_ptr[k + 1]
        codes, probs = processes.member_code[lo:hi], processes.member_prob[lo:hi]
        i, j = np.triu_indices(len(codes), k=1)
        lo_code, hi_code = np.minimum(codes[i], codes[j]), np.maximum(codes[i], codes[j])
        rows_a.append(lo_code)
        rows_b.append(hi_code)
        values.append(probs[i] * probs[j])
    if not rows_a:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    a, b, v = np.concatenate(rows_a), np.concatenate(rows_b), np.concatenate(values)
    width = int(max(a.max(initial=0), b.max(initial=0))) + 1
    keys, inverse = np.unique(a * width + b, return_inverse=True)
    total = np.bincount(inverse, weights=v, minlength=keys.size)
    pair_a, pair_b = keys // width, keys % width
    keep = (total > 0) & (pair_a != pair_b)
    return pair_a[keep], pair_b[keep], total[keep]
