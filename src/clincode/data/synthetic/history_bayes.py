"""The Bayes forecast from the history alone [ours]: what any forecaster could reach on a synthetic cohort.

Usage::

    from clincode.data.synthetic.history_bayes import HistoryBayes
    bayes = HistoryBayes.from_cohort(Path("cohort"))      # a directory written by generate_ehr_cohort
    p = bayes.probabilities(subject_id, visit_time, label_space.codes_)   # (N, L) float32

:class:`~clincode.data.synthetic.oracle.CohortOracle` conditions on the latent state (the
conditions active by visit t, their code sets, and the patient's whole visit schedule, so the
number n of visits and the age at the last one, which set each condition's onset law). A
forecaster sees less: the codes of visits 0..t, their times, sex and age. This module gives
``P(code c at visit t+1 | codes of visits 0..t, sex, ages)`` under the generator's own model, so
the distance between the repeat baselines and the oracle splits into what the history holds (this
forecast) and what only the latent state knows (the oracle above it). It is a reference row, not a
learner: it reads the generator's parameters.

The posterior, per row (patient, visit t):

- the visit count n is unknown beyond ``n >= t + 2``: its prior is the generator's
  ``1 + NegBin`` (capped at ``max_visits``), and its posterior weighs each value by the onsets seen
  so far (a condition starts at a visit uniform on 0..n-1, so many early onsets favour a short
  follow-up) and by the conditions not seen; n runs over every value up to ``t + 17`` and a
  geometric grid beyond (each grid point stands for the values up to the next one);
- each chronic process k is either not started by t (or started with an empty code set, which is
  never coded: the same likelihood), or started at visit j <= t with a code set S, which the onset
  visit records whole; so S is a non-empty subset of the process's members seen at visit j, and
  each later visit records all of S (probability r) or none of it. Member c also arrives from
  acute episodes and background codes at a visit of group g with probability
  ``q = 1 - exp(-(A_c(g) + b_c))``, exactly as the generator draws them (floored at e^-60 for the
  chronic codes nothing else emits). Given n, processes are independent, except where two of them
  could both have put a seen code in their set (in the demo's universe 9% of chronic codes belong to two chronic
  processes, among them the commonest, I10 and E78.x): such a group's posterior is computed over
  the product of its members' states, each visit's likelihood summed over the record flags of the
  started ones. A candidate (j, S) joins a row's group when its share of its own process's
  candidate mass at that row reaches e^-20 (a cut decided on the row's own history);
- the onset law given n is the generator's: risk R(sex, age band at the last visit), from visit 0
  with ``prevalent_fraction`` p, else uniform on 0..n-1. The age at the last visit is the age at
  visit t+1 plus the mean gap times the visits left, ``n - t - 2`` (an approximation: R changes by
  5-year band).

The forecast at t+1 then combines, as the oracle does, each process's probability of recording c
(an active set containing c, times r; or an onset at t+1, times ``e[k, c]``) with acute episodes,
background codes and the filler code of an empty visit at visit t+1's age band and sex.
Approximations, all stated: the candidate cut above; the age at the last visit; the grid over n; the time
gaps are not read for n (they carry evidence of n only when a follow-up longer than the study
window was compressed into it); and, with ``progression="clinical"``, the sources of a target
process enter its onset at t+1 only, through their posterior probabilities ``a_i`` of having
started by t, taken as independent: hazard ``min(1, h s_k prod_i (1 + a_i (RR_ik - 1)))`` with h
the hazard without progression; the targets' earlier onsets keep the law without progression, and
so does a target's onset inside a group of processes sharing codes. Of visit t+1 only the age is
read (its band sets the acute and background rates, as the oracle's does, and it starts the
estimate of the age at the last visit); nothing of later visits.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clincode.data.synthetic.demographics import DAYS_PER_YEAR, N_AGE_BANDS, age_band
from clincode.data.synthetic.ehr import CohortModel, n_shards, shard_latent
from clincode.data.synthetic.oracle import CohortOracle, read_params
from clincode.data.synthetic.params import SynthParams
from clincode.data.synthetic.ragged import ragged_arange
from clincode.data.synthetic.simulate import visit_codes

__all__ = ["HistoryBayes", "replay_codes"]

# Exact visit counts n = t + 2 + d for d < _EXACT, then a geometric grid (each point stands for the
# values up to the next one).
_EXACT = 16
_GRID_RATIO = 1.2
# Cells of one (rows x chronic processes x n-grid) block of float64 temporaries.
_BLOCK_CELLS = 1 << 22
# A candidate takes part in a row's joint posterior when its share of its process's own candidate
# mass at that row reaches e^_PRUNE (decided on the row's own history, so no row reads a later
# visit; a looser cut enumerates many more joint states for little change in the forecast).
_PRUNE = -20.0
_MAX_JOINT_STATES = 50_000
_LOG_TINY = -60.0  # log of the noise floor of a code no other source emits (q = 1e-26)


def replay_codes(params: SynthParams, model: CohortModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the generator writes for ``params``: (visit, code, age).

    ``visit`` and ``code`` list every diagnosis code, as a global visit index (patients in order)
    and a universe code id, sorted by visit then code; ``age`` is (Nv,) the age in years at each visit.
    """
    visits, codes, ages, offset = [], [], [], 0
    for shard in range(n_shards(params)):
        latent = shard_latent(params, model, shard)
        vc = visit_codes(latent.cohort, latent.conditions, latent.recorded, model.processes, model.tables, latent.rng)
        visits.append(vc.visit + offset)
        codes.append(vc.code)
        ages.append(latent.cohort.visit_age)
        offset += int(latent.cohort.visit_us.size)
    return np.concatenate(visits).astype(np.int64), np.concatenate(codes).astype(np.int64), np.concatenate(ages)


def _visit_count_prior(params: SynthParams) -> np.ndarray:
    """(max_visits + 1,) P(n) of the generator's ``min(1 + NegBin(r, r / (r + mean - 1)), max_visits)``."""
    top = params.max_visits
    pmf = np.zeros(top + 1)
    extra_mean = params.mean_visits - 1.0
    if extra_mean <= 0:
        pmf[1] = 1.0
        return pmf
    r = params.visits_dispersion
    prob = r / (r + extra_mean)
    k = np.arange(top - 1, dtype=np.float64)  # n = 1 + k for n < top
    log_pmf = (
        np.array([math.lgamma(x + r) - math.lgamma(x + 1.0) for x in k]) - math.lgamma(r)
        + r * math.log(prob) + k * math.log1p(-prob)
    )
    pmf[1:top] = np.exp(log_pmf)
    pmf[top] = max(0.0, 1.0 - pmf[1:top].sum())
    return pmf


@dataclass(frozen=True)
class _JointRow:
    """The exact posterior of one row's group of chronic processes that share observed codes.

    Attributes:
        row: the row; slots: (m,) its chronic process slots; codes: (K,) universe ids of their members.
        log_like: (G,) log likelihood ratio of their codes of visits 0..t against noise alone, per n.
        log_absent: (G, K) log P(code k not recorded by these processes at t+1 | history, n).
        log_silent: (G,) log P(none of them records anything at t+1 | history, n).
        p_started: (G, m) P(each process has started by t, with a coded or an empty set | history, n).
    """

    row: int
    slots: np.ndarray
    codes: np.ndarray
    log_like: np.ndarray
    log_absent: np.ndarray
    log_silent: np.ndarray
    p_started: np.ndarray


class HistoryBayes:
    """``P(code at visit t+1 | codes of visits 0..t, sex, ages)`` under the generator's model (module docstring)."""

    def __init__(self, oracle: CohortOracle, params: SynthParams, visit: np.ndarray, code: np.ndarray,
                 age: np.ndarray) -> None:  # fmt: skip
        self.oracle = oracle
        self.params = params
        lat = oracle.latent
        self._visit_ptr_codes = np.concatenate([[0], np.cumsum(np.bincount(visit, minlength=lat.visit_s.size))])
        self._obs_code = code
        self._visit_age = np.asarray(age, dtype=np.float64)
        if self._visit_age.shape != lat.visit_s.shape:
            raise ValueError(f"age has {self._visit_age.size} visits; the cohort has {lat.visit_s.size}.")
        proc = oracle.model.processes
        kc = oracle._p_nonempty.size
        self._kc = kc
        self._target_slot = oracle._target_slot
        slot, mcode, mprob = oracle._member_slot, oracle._member_code, oracle._member_prob
        size = np.bincount(slot, minlength=kc)
        if size.max(initial=0) > 62:
            raise ValueError(f"a chronic process has {size.max()} members; the history posterior handles at most 62.")
        order = np.argsort(slot, kind="stable")
        bit = np.empty(slot.size, dtype=np.int64)
        bit[order] = ragged_arange(size)
        self._bit = bit
        self._member_at = np.full((kc, max(int(size.max(initial=0)), 1)), -1, dtype=np.int64)
        self._member_at[slot, bit] = np.arange(slot.size)
        # Per (slot, bit): logit of e and -log q per (sex, band) group; log P(empty code set) per slot.
        width = self._member_at.shape[1]
        logit = np.zeros((kc, width))
        logit[slot, bit] = np.log(mprob) - np.log1p(-mprob)
        self._logit_e = logit
        self._log_empty = np.bincount(slot, weights=np.log1p(-mprob), minlength=kc)
        lam = oracle._acute_code_rate[:, mcode] + proc.background[mcode][None, :]
        with np.errstate(divide="ignore"):
            neg_log_q = -np.log(-np.expm1(-lam))  # (2B, Mc)
        neg_log_q = np.minimum(neg_log_q, -_LOG_TINY)
        self._neg_log_q = np.zeros((2 * N_AGE_BANDS, kc, width))
        self._neg_log_q[:, slot, bit] = neg_log_q
        # Membership of each universe code in chronic processes, CSR by code.
        by_code = np.argsort(mcode, kind="stable")
        self._code_member_ptr = np.concatenate([[0], np.cumsum(np.bincount(mcode, minlength=len(oracle.model.universe)))])
        self._code_member = by_code
        self._n_prior = _visit_count_prior(params)
        sgf = params.short_gap_fraction
        mean_gap_days = sgf * 11.0 + (1.0 - sgf) * params.median_gap_days * math.exp(1.1**2 / 2.0)
        self._mean_gap_years = mean_gap_days / DAYS_PER_YEAR

    @classmethod
    def from_cohort(cls, path: Path | str) -> HistoryBayes:
        """The history forecast of a cohort directory written by ``generate_ehr_cohort`` (errors as
        :meth:`CohortOracle.from_cohort`).
        """
        root = Path(path)
        oracle = CohortOracle.from_cohort(root)
        params = read_params(root / "metadata" / "dataset.json")
        return cls.from_params(params, oracle)

    @classmethod
    def from_params(cls, params: SynthParams, oracle: CohortOracle | None = None) -> HistoryBayes:
        oracle = oracle if oracle is not None else CohortOracle.from_params(params)
        visit, code, age = replay_codes(params, oracle.model)
        return cls(oracle, params, visit, code, age)

    # -- the posterior ----------------------------------------------------------------------------
    def probabilities(self, subject_id: np.ndarray, visit_time: np.ndarray, codes: list[str]) -> np.ndarray:
        """(N, L) float32 ``P(codes[l] at the visit after visit_time | the history up to it)``."""
        cols = self.oracle.code_ids(codes)
        patient, next_visit = self.oracle.rows(subject_id, visit_time)
        return self.visit_probabilities(patient, next_visit, cols).astype(np.float32)

    def visit_probabilities(self, patient: np.ndarray, next_visit: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(N, L) float64 probabilities of universe codes ``cols`` at global visits ``next_visit``."""
        n_rows = patient.size
        out = np.empty((n_rows, cols.size))
        cand, raw = self._candidates(patient, next_visit)
        grid = self._grid(patient, next_visit)
        joint = self._joint(patient, next_visit, grid, raw)
        in_joint = np.zeros((n_rows, self._kc), dtype=bool)
        for item in joint:
            in_joint[item.row, item.slots] = True
        drop = in_joint[cand["row"], cand["slot"]]
        cand = {key: value[~drop] for key, value in cand.items()}
        block = max(1, _BLOCK_CELLS // max(self._kc * grid[0].shape[1], cols.size, self.oracle._member_code.size, 1))
        # candidates sorted by row, and joint rows by block, so that each block takes its own slice
        order = np.argsort(cand["row"], kind="stable")
        cand = {key: value[order] for key, value in cand.items()}
        joint_of: dict[int, list[_JointRow]] = {}
        for item in joint:
            joint_of.setdefault(item.row // block, []).append(item)
        for lo in range(0, n_rows, block):
            hi = min(lo + block, n_rows)
            a, b = np.searchsorted(cand["row"], [lo, hi])
            part = {key: value[a:b] for key, value in cand.items()}
            part["row"] = part["row"] - lo
            items = [dataclasses.replace(j, row=j.row - lo) for j in joint_of.get(lo // block, [])]
            out[lo:hi] = self._forecast(
                patient[lo:hi], next_visit[lo:hi], cols, part, [g[lo:hi] for g in grid], in_joint[lo:hi], items
            )
        return np.clip(out, 0.0, 1.0, out=out)  # rounding of 1 - absent + empty leaves +-1e-15

    def _grid(self, patient: np.ndarray, next_visit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n values, log prior mass, sex-band group of the last visit), each (N, G), for each row's n-grid."""
        lat = self.oracle.latent
        top = self.params.max_visits
        steps = list(range(_EXACT))
        while steps[-1] < top:
            steps.append(max(steps[-1] + 1, int(math.ceil(steps[-1] * _GRID_RATIO))))
        d = np.array(steps, dtype=np.int64)
        t = next_visit - 1 - lat.visit_ptr[patient]
        n_lo = (t + 2)[:, None] + d[None, :]
        n_hi = np.concatenate([n_lo[:, 1:], np.full((n_lo.shape[0], 1), top + 1)], axis=1)
        cum = np.concatenate([[0.0], np.cumsum(self._n_prior)])
        valid = n_lo <= top
        mass = cum[np.minimum(n_hi, top + 1)] - cum[np.minimum(n_lo, top + 1)]
        with np.errstate(divide="ignore"):
            log_mass = np.where(valid & (mass > 0), np.log(np.maximum(mass, 1e-300)), -np.inf)
        # A grid point stands for its bin by the bin's prior mean of n.
        weights = self._n_prior * np.arange(top + 1)
        cum_w = np.concatenate([[0.0], np.cumsum(weights)])
        mean_n = (cum_w[np.minimum(n_hi, top + 1)] - cum_w[np.minimum(n_lo, top + 1)]) / np.maximum(mass, 1e-300)
        n_val = np.where(valid & (mass > 0), mean_n, n_lo.astype(np.float64))
        n_val = np.clip(n_val, (t + 2)[:, None], top)
        # Age at the last visit ~ age at t+1 plus the mean gap per visit left; sex from visit t+1's group.
        group_next = lat.visit_group[next_visit].astype(np.int64)
        sex = group_next // N_AGE_BANDS
        age_next = self._visit_age[next_visit]
        last_age = age_next[:, None] + (n_val - (t + 2)[:, None]) * self._mean_gap_years
        last_group = sex[:, None] * N_AGE_BANDS + age_band(last_age)
        return n_val, log_mass, last_group

    def _candidates(self, patient: np.ndarray, next_visit: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Every (row, process, onset class, code set) the history allows, with its log weight.

        Returns a dict of flat arrays: row, slot, cls (0 = onset at visit 0, 1 = later), mask (the
        code set S as member bits), score (log of ``P(S) * likelihood ratio against "not started"``
        of the codes of visits onset..t).
        """
        lat, kc = self.oracle.latent, self._kc
        r = self.oracle.record_prob
        t_visit = next_visit - 1
        # Observed member codes of visits first..t of each row's patient: patients may have several
        # rows, so work per patient on its visits up to its last row, then map onto rows.
        upto = np.zeros(lat.n_patients, dtype=np.int64) - 1
        np.maximum.at(upto, patient, t_visit)
        pats = np.flatnonzero(upto >= 0)
        nv = upto[pats] - lat.visit_ptr[pats] + 1
        visits = np.repeat(lat.visit_ptr[pats], nv) + ragged_arange(nv)
        nc = self._visit_ptr_codes[visits + 1] - self._visit_ptr_codes[visits]
        obs_v = np.repeat(visits, nc)
        obs_c = self._obs_code[np.repeat(self._visit_ptr_codes[visits], nc) + ragged_arange(nc)]
        nm = self._code_member_ptr[obs_c + 1] - self._code_member_ptr[obs_c]
        member = self._code_member[np.repeat(self._code_member_ptr[obs_c], nm) + ragged_arange(nm)]
        mv = np.repeat(obs_v, nm)
        mslot = self.oracle._member_slot[member]
        key = mv * kc + mslot
        order = np.argsort(key, kind="stable")
        key, bits = key[order], np.left_shift(np.int64(1), self._bit[member[order]])
        if key.size == 0:
            empty = np.zeros(0, np.int64)
            entries = {"row": empty, "slot": empty, "cls": empty, "mask": empty, "score": np.zeros(0)}
            raw = {"patient": empty, "visit": empty, "rank": empty, "slot": empty, "mask": empty, "prior": np.zeros(0),
                   "best": np.zeros(0), "pass_key": empty}  # fmt: skip
            return entries, raw
        start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        seen_key = key[start]
        seen_mask = np.bitwise_or.reduceat(bits, start)

        # Candidates: each non-empty subset of the members seen at a visit is a possible onset set.
        c_visit, c_slot, c_mask = [], [], []
        pop = np.array([bin(int(m)).count("1") for m in seen_mask], dtype=np.int64) if seen_mask.size else np.zeros(0, np.int64)
        for m in np.unique(pop):
            at = np.flatnonzero(pop == m)
            masks = seen_mask[at]
            # positions of the m set bits of each mask
            pos = np.zeros((at.size, m), dtype=np.int64)
            rest = masks.copy()
            for i in range(m):
                low = rest & -rest
                pos[:, i] = low
                rest = rest ^ low
            for combo in range(1, 1 << m):
                sub = np.zeros(at.size, dtype=np.int64)
                for i in range(m):
                    if combo >> i & 1:
                        sub |= pos[:, i]
                c_visit.append(seen_key[at] // kc)
                c_slot.append(seen_key[at] % kc)
                c_mask.append(sub)
        cv, cs, cm = np.concatenate(c_visit), np.concatenate(c_slot), np.concatenate(c_mask)
        width = self._member_at.shape[1]
        group_v = lat.visit_group.astype(np.int64)

        def set_sum(table: np.ndarray, slot: np.ndarray, mask: np.ndarray) -> np.ndarray:
            out = np.zeros(slot.size)
            for b in range(width):
                on = (mask >> b) & 1 == 1
                if on.any():
                    out[on] += table[slot[on], b]
            return out

        def set_sum_group(group: np.ndarray, slot: np.ndarray, mask: np.ndarray) -> np.ndarray:
            out = np.zeros(slot.size)
            for b in range(width):
                on = (mask >> b) & 1 == 1
                if on.any():
                    out[on] += self._neg_log_q[group[on], slot[on], b]
            return out

        prior = self._log_empty[cs] + set_sum(self._logit_e, cs, cm)
        onset_llr = set_sum_group(group_v[cv], cs, cm)
        # Later visits v+1 .. (last row's visit t) of the patient: all of S (prob r) or none.
        cp = np.searchsorted(lat.visit_ptr, cv, side="right") - 1  # patient of each candidate
        later = np.maximum(upto[cp] - cv, 0)
        pv = np.repeat(cv, later) + 1 + ragged_arange(later)
        pc = np.repeat(np.arange(cv.size), later)
        ps, pm = cs[pc], cm[pc]
        pkey = pv * kc + ps
        at = np.minimum(np.searchsorted(seen_key, pkey), seen_key.size - 1)
        mask_here = np.where(seen_key[at] == pkey, seen_mask[at], 0)
        all_in = (mask_here & pm) == pm
        gain = set_sum_group(group_v[pv], ps, pm)
        log_f = np.where(all_in, np.logaddexp(math.log(r) + gain, math.log1p(-r)), math.log1p(-r))
        # cumulative log-likelihood ratio through each later visit
        csum = np.cumsum(log_f)
        base = np.repeat(np.concatenate([[0.0], csum])[np.cumsum(later) - later], later)
        cum = csum - base
        # Entries (candidate, row visit t): the onset visit itself and each later visit.
        e_cand = np.concatenate([np.arange(cv.size), pc])
        e_visit = np.concatenate([cv, pv])
        e_score = prior[e_cand] + onset_llr[e_cand] + np.concatenate([np.zeros(cv.size), cum])
        # Map row visits onto rows.
        row_at = np.full(lat.visit_s.size, -1, dtype=np.int64)
        row_at[t_visit] = np.arange(t_visit.size)
        e_row = row_at[e_visit]
        keep = e_row >= 0
        e_cand, e_row, e_score = e_cand[keep], e_row[keep], e_score[keep]
        onset_rank = cv - lat.visit_ptr[cp]
        entries = {
            "row": e_row,
            "slot": cs[e_cand],
            "cls": (onset_rank[e_cand] > 0).astype(np.int64),
            "mask": cm[e_cand],
            "score": e_score,
        }
        # Each candidate's best share of its process's candidate mass over the rows (prunes the joint).
        best = np.full(cv.size, -np.inf)
        if e_cand.size:
            gkey = e_row * kc + cs[e_cand]
            order = np.argsort(gkey, kind="stable")
            start = np.flatnonzero(np.r_[True, gkey[order][1:] != gkey[order][:-1]])
            top = np.maximum.reduceat(e_score[order], start)
            width_g = np.diff(np.r_[start, order.size])
            lse = top + np.log(np.add.reduceat(np.exp(e_score[order] - np.repeat(top, width_g)), start))
            rel = np.empty(order.size)
            rel[order] = e_score[order] - np.repeat(lse, width_g)
            np.maximum.at(best, e_cand, rel)
        else:
            rel = np.zeros(0)
        raw = {"patient": cp, "visit": cv, "rank": onset_rank, "slot": cs, "mask": cm, "prior": prior, "best": best,
               "pass_key": np.sort(e_cand[rel > _PRUNE] * max(t_visit.size, 1) + e_row[rel > _PRUNE])}  # fmt: skip
        return entries, raw

    def _joint(self, patient: np.ndarray, next_visit: np.ndarray, grid: tuple[np.ndarray, np.ndarray, np.ndarray],
               raw: dict[str, np.ndarray]) -> list[_JointRow]:  # fmt: skip
        """Rows whose candidate code sets of two processes share a code: their posterior over the
        product of the processes' states (not started, or one candidate each), exactly.
        """
        o = self.oracle
        n_val, _, last_group = grid
        out: list[_JointRow] = []
        if raw["slot"].size == 0:
            return out
        member_code = o._member_code
        cand_codes = [member_code[self._member_at[k][[b for b in range(self._member_at.shape[1]) if m >> b & 1]]]
                      for k, m in zip(raw["slot"].tolist(), raw["mask"].tolist(), strict=True)]  # fmt: skip
        rows_of: dict[int, list[int]] = {}
        for i, pt in enumerate(patient.tolist()):
            rows_of.setdefault(pt, []).append(i)
        order = np.argsort(raw["patient"], kind="stable")
        bounds = np.flatnonzero(np.r_[True, np.diff(raw["patient"][order]) != 0, True])
        nonempty = 1.0 - np.exp(self._log_empty)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            idx = order[a:b]
            pt = int(raw["patient"][idx[0]])
            # group the patient's processes linked by a code in candidate sets of both
            slots = sorted(set(raw["slot"][idx].tolist()))
            parent = {k: k for k in slots}

            def find(k: int, parent: dict[int, int] = parent) -> int:
                while parent[k] != k:
                    parent[k] = parent[parent[k]]
                    k = parent[k]
                return k

            owner: dict[int, int] = {}
            for i in idx.tolist():
                k = int(raw["slot"][i])
                for c in cand_codes[i].tolist():
                    if c in owner and find(owner[c]) != find(k):
                        parent[find(owner[c])] = find(k)
                    owner.setdefault(c, k)
            groups: dict[int, list[int]] = {}
            for k in slots:
                groups.setdefault(find(k), []).append(k)
            for members in groups.values():
                if len(members) < 2:
                    continue
                out.extend(self._joint_group(pt, members, idx, raw, cand_codes, rows_of[pt], patient, next_visit,
                                             n_val, last_group, nonempty))  # fmt: skip
        return out

    def _joint_group(self, pt: int, members: list[int], idx: np.ndarray, raw: dict[str, np.ndarray],
                     cand_codes: list[np.ndarray], rows: list[int], patient: np.ndarray, next_visit: np.ndarray,
                     n_val: np.ndarray, last_group: np.ndarray, nonempty: np.ndarray) -> list[_JointRow]:  # fmt: skip
        """The joint posterior of one patient's group of processes (``members``) at each of its rows."""
        o = self.oracle
        latent = o.latent
        p, r = o.prevalent_fraction, o.record_prob
        log_r, log_1r = math.log(r), math.log1p(-r)
        # per process: its candidates (indices into raw); state 0 = not started
        per = []
        for k in members:
            mine = [int(i) for i in idx.tolist() if int(raw["slot"][i]) == k and raw["best"][i] > _PRUNE]
            per.append(mine)
        m = len(members)
        sizes = [1 + len(c) for c in per]
        n_states = int(np.prod(sizes))
        if n_states > _MAX_JOINT_STATES:
            raise ValueError(
                f"patient {pt}: {n_states} joint states of {m} chronic processes sharing codes (at most "
                f"{_MAX_JOINT_STATES}); the history posterior cannot enumerate them."
            )
        grid_idx = np.array(list(itertools.product(*[range(d) for d in sizes])), dtype=np.int64)  # (J, m)
        obs_codes = sorted({c for i in idx.tolist() if int(raw["slot"][i]) in members for c in cand_codes[i].tolist()})
        if len(obs_codes) > 62:
            raise ValueError(f"patient {pt}: {len(obs_codes)} observed codes in processes sharing codes; at most 62.")
        bit_of = {c: b for b, c in enumerate(obs_codes)}
        # per (state, process): onset rank (huge for "not started"), code mask, log P(S) prior
        onset = np.full((n_states, m), 1 << 40, dtype=np.int64)
        mask = np.zeros((n_states, m), dtype=np.int64)
        prior_s = np.zeros((n_states, m))
        for k in range(m):
            ranks = np.array([1 << 40] + [int(raw["rank"][i]) for i in per[k]], dtype=np.int64)
            masks = np.array([0] + [sum(1 << bit_of[c] for c in cand_codes[i].tolist()) for i in per[k]], dtype=np.int64)
            priors = np.array([0.0] + [float(raw["prior"][i]) for i in per[k]])
            onset[:, k], mask[:, k], prior_s[:, k] = ranks[grid_idx[:, k]], masks[grid_idx[:, k]], priors[grid_idx[:, k]]
        # visits 0..T of the patient, T = the last row's visit
        first = int(latent.visit_ptr[pt])
        t_rows = np.array([int(next_visit[i]) - 1 - first for i in rows], dtype=np.int64)
        last = int(t_rows.max())
        obs_bits = np.zeros(last + 1, dtype=np.int64)
        codes_arr = np.array(obs_codes, dtype=np.int64)
        for s_rank in range(last + 1):
            v = first + s_rank
            here = self._obs_code[self._visit_ptr_codes[v]:self._visit_ptr_codes[v + 1]]
            hit = np.isin(codes_arr, here)
            obs_bits[s_rank] = int(sum(1 << b for b in np.flatnonzero(hit).tolist()))
        # -log q of each observed code at each visit's group (acute + background only)
        slot_bit: dict[int, tuple[int, int]] = {}
        for k in members:
            for bpos in range(self._member_at.shape[1]):
                mi = self._member_at[k, bpos]
                if mi >= 0:
                    slot_bit.setdefault(int(o._member_code[mi]), (k, bpos))
        nlq_code = np.zeros((2 * N_AGE_BANDS, len(obs_codes)))
        for c, b in bit_of.items():
            k, bpos = slot_bit[c]
            nlq_code[:, b] = self._neg_log_q[:, k, bpos]
        emission = np.zeros((last + 1, n_states))
        patterns = np.arange(1 << m, dtype=np.int64)
        for s_rank in range(last + 1):
            g = int(latent.visit_group[first + s_rank])
            started_now = onset == s_rank
            cont = onset < s_rank
            if not (started_now | cont).any():
                continue
            acc = np.full(n_states, -np.inf)
            for f in patterns.tolist():
                fbits = np.array([(f >> k) & 1 for k in range(m)], dtype=bool)
                if (fbits[None, :] & ~cont).any(axis=1).all():
                    continue
                valid = ~(fbits[None, :] & ~cont).any(axis=1)
                rec = started_now | (cont & fbits[None, :])
                union = np.bitwise_or.reduce(np.where(rec, mask, 0), axis=1)
                ok = valid & ((union & obs_bits[s_rank]) == union)
                n_f = (cont & fbits[None, :]).sum(axis=1)
                n_off = (cont & ~fbits[None, :]).sum(axis=1)
                gain = np.zeros(n_states)
                for b in range(len(obs_codes)):
                    on = (union >> b) & 1 == 1
                    gain[on] += nlq_code[g, b]
                term = np.where(ok, n_f * log_r + n_off * log_1r + gain, -np.inf)
                acc = np.logaddexp(acc, term)
            emission[s_rank] = acc
        cum = np.cumsum(emission, axis=0)  # (T+1, J)
        # member codes of the group's processes and their emission probabilities
        codes_all = np.unique(o._member_code[np.isin(o._member_slot, members)])
        col_of = {int(c): i for i, c in enumerate(codes_all.tolist())}
        e_kc = np.zeros((m, codes_all.size))
        in_s = np.zeros((n_states, m, codes_all.size), dtype=bool)
        for k_i, k in enumerate(members):
            for bpos in range(self._member_at.shape[1]):
                mi = self._member_at[k, bpos]
                if mi >= 0:
                    e_kc[k_i, col_of[int(o._member_code[mi])]] = o._member_prob[mi]
        for c, b in bit_of.items():
            in_s[:, :, col_of[c]] = (mask >> b) & 1 == 1
        results = []
        members_arr = np.array(members, dtype=np.int64)
        cand_of = np.full((n_states, m), -1, dtype=np.int64)  # raw index of each state's candidate
        for k in range(m):
            ids = np.array([-1] + per[k], dtype=np.int64)
            cand_of[:, k] = ids[grid_idx[:, k]]
        n_all = max(patient.size, 1)
        for i, t in zip(rows, t_rows.tolist(), strict=True):
            n = n_val[i]  # (G,)
            key = np.where(cand_of >= 0, cand_of * n_all + i, -1)
            at = np.minimum(np.searchsorted(raw["pass_key"], key), max(raw["pass_key"].size - 1, 0))
            passes = (cand_of < 0) | ((raw["pass_key"].size > 0) & (raw["pass_key"][at] == key))
            R = o._presence_risk[last_group[i]][:, members_arr]  # (G, m)
            frac = p + (1.0 - p) * (t + 1.0) / n  # (G,)
            null = np.maximum(1.0 - R * nonempty[members_arr][None, :] * frac[:, None], 1e-300)  # (G, m)
            started = onset <= t  # (J, m)
            valid = ~((onset < (1 << 40)) & ~started).any(axis=1) & passes.all(axis=1)
            with np.errstate(divide="ignore"):
                g_j = np.where(onset == 0, p + (1.0 - p) / n[:, None, None], (1.0 - p) / n[:, None, None])  # (G, J, m)
                log_prior = np.where(started[None], np.log(R)[:, None, :] + np.log(g_j) + prior_s[None],
                                     np.log(null)[:, None, :]).sum(axis=2)  # fmt: skip
            score = np.where(valid[None, :], log_prior + cum[t][None, :], -np.inf)  # (G, J)
            top = score.max(axis=1, keepdims=True)
            log_like = (top + np.log(np.exp(score - top).sum(axis=1, keepdims=True)))[:, 0]
            post = np.exp(score - log_like[:, None])  # (G, J)
            hazard = R * (1.0 - p) / n[:, None] / null  # (G, m) onset at t+1 given not started
            # P(process records code c at t+1 | state): started -> r [c in S]; not -> hazard e_c
            p_rec = np.where(started[None, :, :, None], r * in_s[None], hazard[:, None, :, None] * e_kc[None, None])
            log_absent_state = np.log1p(-np.minimum(p_rec, 1.0)).sum(axis=2)  # (G, J, K)
            absent = np.einsum("gj,gjk->gk", post, np.exp(log_absent_state))
            p_any = np.where(started[None], r, hazard[:, None, :] * nonempty[members_arr][None, None, :])  # (G, J, m)
            silent = (post * np.exp(np.log1p(-np.minimum(p_any, 1.0)).sum(axis=2))).sum(axis=1)
            quiet = R * np.exp(self._log_empty[members_arr])[None, :] * frac[:, None] / null  # (G, m)
            p_started = np.einsum("gj,gjm->gm", post, np.where(started[None], 1.0, quiet[:, None, :]))
            with np.errstate(divide="ignore"):
                results.append(_JointRow(i, members_arr, codes_all, log_like, np.log(np.maximum(absent, 1e-300)),
                                         np.log(np.maximum(silent, 1e-300)), p_started))  # fmt: skip
        return results

    def _progressed(self, onset_next: np.ndarray, post: np.ndarray, R: np.ndarray, frac: np.ndarray, null: np.ndarray,
                    hr: np.ndarray, hk: np.ndarray, Rh: np.ndarray, log_z: np.ndarray,
                    q0: np.ndarray, q1: np.ndarray, joint: list[_JointRow]) -> np.ndarray:  # fmt: skip
        """With disease progression: the onset at t+1 of each target process, its hazard raised by
        ``s_k * prod_i (1 + a_i (RR_ik - 1))`` with a_i the posterior probability that source i has
        started by t (a coded or an empty code set) and the sources taken as independent (module
        docstring); capped so that the hazard stays at most 1.
        """
        empty = np.exp(self._log_empty)
        # P(started by t with an empty set | not coded) = R E frac / null, for every (row, process)
        started = np.einsum("bg,bgk->bk", post * frac, R * empty[None, None, :] / null)
        if hr.size:
            quiet = (post[hr] * Rh * empty[hk][:, None] * frac[hr] * np.exp(-log_z)).sum(axis=1)
            started[hr, hk] = q0 + q1 + quiet
        for item in joint:
            started[item.row, item.slots] = post[item.row] @ item.p_started
        started = np.clip(started, 0.0, 1.0)
        rr = np.exp(self.oracle._log_rr)  # (Kc sources, T targets)
        multiplier = np.exp(np.log1p(started[:, :, None] * (rr[None, :, :] - 1.0)).sum(axis=1))  # (B, T)
        slots = self._target_slot
        room = np.maximum(1.0 - started[:, slots], 1e-300)
        hazard = onset_next[:, slots] / room
        raised = np.minimum(1.0, hazard * self.oracle._target_scale[None, :] * multiplier)
        out = onset_next.copy()
        out[:, slots] = room * raised
        return out

    def _forecast(self, patient: np.ndarray, next_visit: np.ndarray, cols: np.ndarray, cand: dict[str, np.ndarray],
                  grid: list[np.ndarray], in_joint: np.ndarray, joint: list[_JointRow]) -> np.ndarray:  # fmt: skip
        o, lat, kc = self.oracle, self.oracle.latent, self._kc
        p, r = o.prevalent_fraction, o.record_prob
        n_rows = patient.size
        n_val, log_mass, last_group = grid
        t = (next_visit - 1 - lat.visit_ptr[patient]).astype(np.float64)
        # (B, G, Kc) risk and the "not started by t" probability given n.
        R = o._presence_risk[last_group]  # (B, G, Kc)
        nonempty = 1.0 - np.exp(self._log_empty)  # (Kc,)
        frac = p + (1.0 - p) * (t[:, None] + 1.0) / n_val  # (B, G)
        null = np.maximum(1.0 - R * nonempty[None, None, :] * frac[:, :, None], 1e-300)
        log_null = np.log(null)

        # Candidate sums per (row, slot, class): log C.
        row, slot, cls, score = cand["row"], cand["slot"], cand["cls"], cand["score"]
        gkey = (row * kc + slot) * 2 + cls
        order = np.argsort(gkey, kind="stable")
        gkey, score_o = gkey[order], score[order]
        if gkey.size:
            start = np.flatnonzero(np.r_[True, gkey[1:] != gkey[:-1]])
            top = np.maximum.reduceat(score_o, start)
            lse = top + np.log(np.add.reduceat(np.exp(score_o - np.repeat(top, np.diff(np.r_[start, gkey.size]))), start))
            ukey = gkey[start]
        else:
            lse = np.zeros(0)
            ukey = np.zeros(0, np.int64)
        log_c = np.full((n_rows, kc, 2), -np.inf)
        log_c.reshape(-1)[ukey] = lse
        has = np.isfinite(log_c).any(axis=2)  # (B, Kc)
        hr, hk = np.nonzero(has)
        # log Z_k(n) for (row, k) with candidates: null + R (C0 (p + (1-p)/n) + C1 (1-p)/n).
        Rh = R[hr, :, hk]  # (H, G)
        nh = n_val[hr]
        with np.errstate(divide="ignore"):
            t0 = np.log(Rh) + log_c[hr, hk, 0][:, None] + np.log(p + (1.0 - p) / nh)
            t1 = np.log(Rh) + log_c[hr, hk, 1][:, None] + np.log((1.0 - p) / nh)
        log_z = np.logaddexp(np.logaddexp(log_null[hr, :, hk], t0), t1)  # (H, G)
        # Posterior over n.
        log_post = log_mass + np.where(in_joint[:, None, :], 0.0, log_null).sum(axis=2)
        np.add.at(log_post, hr, log_z - log_null[hr, :, hk])
        for item in joint:
            log_post[item.row] += item.log_like
        log_post -= log_post.max(axis=1, keepdims=True)
        post = np.exp(log_post)
        post /= post.sum(axis=1, keepdims=True)

        # P(onset at t+1 | history) per (row, k): sum_n post(n) R (1-p) / n / Z_k(n).
        onset_next = np.einsum("bg,bgk->bk", post / n_val, R * (1.0 - p) / null)
        q0 = q1 = np.zeros(0)
        if hr.size:
            onset_next[hr, hk] = (post[hr] * Rh * (1.0 - p) / nh * np.exp(-log_z)).sum(axis=1)
            q0 = (post[hr] * np.exp(t0 - log_z)).sum(axis=1)
            q1 = (post[hr] * np.exp(t1 - log_z)).sum(axis=1)
        if self._target_slot.size:
            onset_next = self._progressed(onset_next, post, R, frac, null, hr, hk, Rh, log_z, q0, q1, joint)
        onset_next[in_joint] = 0.0  # their forecast comes from the joint posterior below
        # Each candidate's posterior: its class probability times its share of the class sum.
        cand_q = np.zeros(row.size)
        if row.size:
            qmap = np.zeros((n_rows, kc, 2))
            qmap[hr, hk, 0] = q0
            qmap[hr, hk, 1] = q1
            cand_q = qmap[row, slot, cls] * np.exp(score - log_c[row, slot, cls])
        # Probability that process k records member m at t+1.
        member_slot, member_prob = o._member_slot, o._member_prob
        rec = onset_next[:, member_slot] * member_prob[None, :]  # (B, Mc)
        width = self._member_at.shape[1]
        for b in range(width):
            on = (cand["mask"] >> b) & 1 == 1
            if on.any():
                np.add.at(rec, (row[on], self._member_at[slot[on], b]), cand_q[on] * r)
        rec = np.clip(rec, 0.0, 1.0)
        rec_any = onset_next * nonempty[None, :]
        np.add.at(rec_any, (row, slot), cand_q * r)
        rec_any = np.clip(rec_any, 0.0, 1.0)

        column = np.full(len(o.model.universe), -1, dtype=np.int64)
        column[cols] = np.arange(cols.size)
        log_absent = np.zeros((n_rows, cols.size))
        member_col = column[o._member_code]
        on = np.flatnonzero(member_col >= 0)
        with np.errstate(divide="ignore"):
            if on.size:
                on = on[np.argsort(member_col[on], kind="stable")]
                terms = np.log1p(-rec[:, on])
                first = np.flatnonzero(np.r_[True, np.diff(member_col[on]) != 0])
                log_absent[:, member_col[on][first]] += np.add.reduceat(terms, first, axis=1)
            log_empty = np.log1p(-rec_any).sum(axis=1)
        for item in joint:
            w = post[item.row]
            col = column[item.codes]
            hit = col >= 0
            absent_k = w @ np.exp(item.log_absent)
            log_absent[item.row, col[hit]] += np.log(np.maximum(absent_k[hit], 1e-300))
            log_empty[item.row] += math.log(max(float(w @ np.exp(item.log_silent)), 1e-300))
        group = lat.visit_group[next_visit].astype(np.int64)
        background = o.model.processes.background[cols]
        log_absent -= o._acute_code_rate[np.ix_(group, cols)] + background[None, :]
        absent = np.exp(log_absent)
        empty = np.exp(log_empty + o._log_no_acute[group] + o._log_no_background)
        return 1.0 - absent + empty[:, None] * o._filler[cols][None, :]

