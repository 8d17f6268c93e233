"""The Bayes forecast of a synthetic cohort: the ceiling of next-visit prediction on it.

Usage::

    from clincode.data.synthetic.oracle import CohortOracle
    oracle = CohortOracle.from_cohort(Path("cohort"))       # a directory written by generate_ehr_cohort
    p = oracle.probabilities(subject_id, visit_time, label_space.codes_)   # (N, V) float32

A next-visit row is (patient, visit t) with ``visit_time`` the epoch seconds of visit t; its
target is the code set of visit t+1. The oracle returns the tight ceiling
``P(code c at visit t+1 | what is latent and drawn up to visit t)``: the patient's sex, birth and
visit schedule (so the age band of visit t+1, the number of visits n and the age band of the last
visit, which sets the chronic risk), and the chronic conditions active by visit t (onset <= t)
with their fixed code sets. Whatever the generator draws for visit t+1 or later is not read:

- chronic, active by t: recorded with ``chronic_record_prob`` = r (all of its code set at once);
- chronic, not active by t: process k starts at t+1 with the generator's onset hazard h_k at
  visit j = t+1 and is then recorded for sure, with a fresh code set whose members are emitted
  independently with ``e[k, c]`` (possibly none). Without progression a condition is present with
  risk R (sex, age band of the last visit), from visit 0 with ``prevalent_fraction`` = p, else
  from a visit uniform on 0..n-1, so ``P(onset = j | onset >= j) = R (1 - p) / n / (1 - R (p +
  (1 - p) j / n))`` for j >= 1 (``R (p + (1 - p) / n)`` at j = 0). With ``progression="clinical"``
  a target process has ``min(1, s_k R (1 - p) / n / survival * prod RR_ik)`` over its sources i
  active by t, exactly as :func:`~clincode.data.synthetic.progression.progression_onsets` draws
  it; the other processes keep the formula above (their conditional law given the state up to t
  is unchanged: targets only look at sources started before each visit). R is the probability
  of the float32 comparison the generator makes, ``ceil(R32 2^24) / 2^24``;
- acute: episodes of process k arrive as Poisson(``rate_k(sex, band)``) (the generator's Poisson
  total split by a categorical draw is the same as independent Poisson counts per process), each
  episode emitting member c independently with ``e[k, c]``; so c arrives from acute episodes as
  Poisson(``A_c = sum_k rate_k e[k, c]``);
- background: code c arrives as Poisson(``b_c``) (the same thinning argument);
- filler: a visit left without any code gets one code, c with probability ``f_c`` (the filler
  weights, normalised).

The sources are independent given the state up to t (the onsets at t+1 of different processes
too), so, exactly (no approximation):

    P(c absent from the sources) = (1 - r)^(active i with c in its set) * prod_{k not active} (1 - h_k e[k, c])
                                   * exp(-A_c - b_c)
    P(visit empty)               = (1 - r)^(active i with a non-empty set)
                                   * prod_{k not active} (1 - h_k (1 - prod_c (1 - e[k, c])))
                                   * exp(-sum_k rate_k (1 - prod_c (1 - e[k, c]))) * exp(-sum_c b_c)
    P(c present)                 = 1 - P(c absent from the sources) + P(visit empty) * f_c

Nothing drawn for visit t+1 or later enters the forecast of row t (tested: onsets at t+1 or later
and their code sets may change freely), and no drawn event is read at all. Blocks of rows keep
(rows x chronic processes) and (rows x chronic member codes) temporaries bounded in memory.

The latent state is recomputed by replaying the generator's latent draws from
``metadata/dataset.json`` (parameters and seed), shard by shard; the replay is checked against
the cohort's ``latent_processes.parquet`` and visit counts, so a cohort written by another
generator version or another ICD-10-CM code table fails loudly instead of giving wrong numbers.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from clincode.data.synthetic.demographics import N_AGE_BANDS, age_band
from clincode.data.synthetic.ehr import FIRST_SUBJECT_ID, CohortModel, build_model, n_shards, shard_latent
from clincode.data.synthetic.params import GENERATOR_NAME, GENERATOR_VERSION, SynthParams
from clincode.data.synthetic.ragged import ragged_arange

__all__ = ["KNOWN_GENERATOR_VERSIONS", "CohortLatent", "CohortOracle", "replay_latent"]

# Generator versions whose latent draws this module replays.
KNOWN_GENERATOR_VERSIONS = (GENERATOR_VERSION,)
_US_PER_SECOND = 1_000_000
# Cells (rows x labels) of one block of float64 temporaries: bounds memory whatever N is.
_BLOCK_CELLS = 1 << 22


@dataclass(frozen=True)
class CohortLatent:
    """The latent state of a whole cohort (all shards), patients indexed from 0.

    Attributes:
        female: (S,) bool.
        visit_ptr: (S + 1,) int64 CSR offsets into the visit arrays.
        visit_s: (Nv,) int64 visit times, epoch seconds (strictly increasing within a patient).
        visit_group: (Nv,) int16 ``sex * N_AGE_BANDS + age band`` at the visit (0 = female).
        cond_ptr: (S + 1,) int64 CSR offsets of each patient's chronic conditions.
        onset: (C,) int64 visit rank of each condition's onset.
        process: (C,) int64 its latent process.
        code_ptr: (C + 1,) int64 CSR offsets into ``code``: each condition's fixed code set.
        code: (M,) int64 code ids of the universe.
    """

    female: np.ndarray
    visit_ptr: np.ndarray
    visit_s: np.ndarray
    visit_group: np.ndarray
    cond_ptr: np.ndarray
    onset: np.ndarray
    process: np.ndarray
    code_ptr: np.ndarray
    code: np.ndarray

    @property
    def n_patients(self) -> int:
        return int(self.female.size)


def replay_latent(params: SynthParams, model: CohortModel) -> CohortLatent:
    """Recompute the latent state of the cohort ``generate_ehr_cohort`` writes for ``params``."""
    female, n_visits, visit_s, group = [], [], [], []
    n_cond, onset, process, code_count, code = [], [], [], [], []
    for shard in range(n_shards(params)):
        latent = shard_latent(params, model, shard)
        cohort, cond = latent.cohort, latent.conditions
        female.append(cohort.female)
        n_visits.append(cohort.n_visits)
        visit_s.append(cohort.visit_us // _US_PER_SECOND)
        sex = cohort.sex_index()[cohort.visit_patient]
        group.append((sex * N_AGE_BANDS + age_band(cohort.visit_age)).astype(np.int16))
        order = np.argsort(cond.patient, kind="stable")  # already sorted by the generator; cheap
        sizes = np.diff(cond.code_ptr)
        n_cond.append(np.bincount(cond.patient, minlength=cohort.n_patients))
        onset.append(cond.onset[order])
        process.append(cond.process[order])
        code_count.append(sizes[order])
        starts = cond.code_ptr[:-1][order]
        code.append(cond.code[np.repeat(starts, sizes[order]) + ragged_arange(sizes[order])])
        del latent

    def ptr(counts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)

    return CohortLatent(
        female=np.concatenate(female),
        visit_ptr=ptr(n_visits),
        visit_s=np.concatenate(visit_s).astype(np.int64),
        visit_group=np.concatenate(group),
        cond_ptr=ptr(n_cond),
        onset=np.concatenate(onset).astype(np.int64),
        process=np.concatenate(process).astype(np.int64),
        code_ptr=ptr(code_count),
        code=np.concatenate(code).astype(np.int64),
    )


class CohortOracle:
    """``P(code at visit t+1 | state up to visit t)`` for the rows of a synthetic cohort (module docstring).

    Build it with :meth:`from_cohort` (or :meth:`from_params` for a cohort that was never
    written); the constructor takes an explicit model and latent state (tests alter the latter).
    """

    def __init__(self, model: CohortModel, latent: CohortLatent, record_prob: float, prevalent_fraction: float) -> None:
        self.model = model
        self.latent = latent
        self.record_prob = float(record_prob)
        self.prevalent_fraction = float(prevalent_fraction)
        proc, tables = model.processes, model.tables
        self._code_index = model.universe.index()
        n_acute = tables.acute_ids.size
        # (2 * N_AGE_BANDS, Ka) episode rates; per process, P(an episode emits nothing).
        self._acute_rate = tables.acute_rate.reshape(2 * N_AGE_BANDS, n_acute)
        sizes = np.diff(proc.member_ptr)
        member_process = np.repeat(np.arange(len(proc)), sizes)
        log_silent = np.bincount(member_process, weights=np.log1p(-proc.member_prob), minlength=len(proc))
        p_emits = -np.expm1(log_silent[tables.acute_ids])
        self._log_no_acute = -(self._acute_rate @ p_emits)  # (2B,)
        self._log_no_background = -float(proc.background.sum())
        self._filler = proc.filler / proc.filler.sum()
        # Acute emission rate of every code, per (sex, band) group: (2B, V), dense over the universe.
        acute_slot = np.full(len(proc), -1, dtype=np.int64)
        acute_slot[tables.acute_ids] = np.arange(n_acute)
        slot = acute_slot[member_process]
        emission = np.zeros((n_acute, len(model.universe)))
        np.add.at(emission, (slot[slot >= 0], proc.member_code[slot >= 0]), proc.member_prob[slot >= 0])
        self._acute_code_rate = self._acute_rate @ emission  # (2B, V)

        # Chronic onsets. Risk R of each (sex, band at the last visit) group: (2B, Kc). The presence
        # draw compares a float32 uniform (a multiple of 2^-24) with the float32 risk, so its exact
        # probability is ceil(R32 * 2^24) / 2^24; progression targets use the float64 risk.
        n_chronic = tables.chronic_ids.size
        risk = tables.chronic_risk.reshape(2 * N_AGE_BANDS, n_chronic)
        self._presence_risk = np.ceil(risk.astype(np.float32).astype(np.float64) * 2.0**24) / 2.0**24
        self._target_risk = risk.astype(np.float64)
        self._chronic_slot = np.full(len(proc), -1, dtype=np.int64)
        self._chronic_slot[tables.chronic_ids] = np.arange(n_chronic)
        self._p_nonempty = -np.expm1(log_silent[tables.chronic_ids])  # (Kc,) P(a code set is not empty)
        chronic_member = self._chronic_slot[member_process] >= 0
        self._member_slot = self._chronic_slot[member_process[chronic_member]]  # (Mc,)
        self._member_code = proc.member_code[chronic_member].astype(np.int64)
        self._member_prob = proc.member_prob[chronic_member].astype(np.float64)
        # Progression: target slots, their hazard scales and log relative risks (Kc sources x T targets).
        matrix = model.progression
        targets = np.zeros(0, np.int64) if matrix is None else matrix.targets()
        self._target_slot = self._chronic_slot[targets]
        self._target_scale = np.ones(0) if matrix is None else matrix.scale.astype(np.float64)
        self._log_rr = np.zeros((n_chronic, targets.size))
        if matrix is not None:
            t_index = {int(k): i for i, k in enumerate(targets)}
            for s, t, rr in zip(matrix.source, matrix.target, matrix.relative_risk, strict=True):
                self._log_rr[self._chronic_slot[s], t_index[int(t)]] = np.log(rr)
        # Per patient: the (sex, band) group of the last visit and the number of visits.
        self._last_group = latent.visit_group[latent.visit_ptr[1:] - 1].astype(np.int64)
        self._n_visits = np.diff(latent.visit_ptr).astype(np.float64)

    @classmethod
    def from_params(cls, params: SynthParams) -> CohortOracle:
        """The oracle of the cohort ``generate_ehr_cohort`` writes for ``params`` (nothing read)."""
        params.validate()
        model = build_model(params)
        return cls(model, replay_latent(params, model), params.chronic_record_prob, params.prevalent_fraction)

    @classmethod
    def from_cohort(cls, path: Path | str) -> CohortOracle:
        """The oracle of a cohort directory written by ``generate_ehr_cohort``.

        Raises:
            FileNotFoundError: ``metadata/dataset.json`` or ``metadata/latent_processes.parquet`` is missing.
            ValueError: the directory is not such a cohort (one sentence naming the file and field),
                the generator version is unknown, or the replayed latent state does not match it.
        """
        root = Path(path)
        info_path = root / "metadata" / "dataset.json"
        if not info_path.is_file():
            raise FileNotFoundError(f"{info_path} not found: expected a cohort written by generate_ehr_cohort.")
        params = read_params(info_path)
        oracle = cls.from_params(params)
        oracle._check_against(root, json.loads(info_path.read_text(encoding="utf-8")))
        return oracle

    def _check_against(self, root: Path, info: dict[str, Any]) -> None:
        counts = info.get("counts", {})
        replayed = {"patients": self.latent.n_patients, "visits": int(self.latent.visit_s.size)}
        for key, value in replayed.items():
            if counts.get(key) != value:
                raise ValueError(
                    f"{root / 'metadata' / 'dataset.json'}: counts.{key} is {counts.get(key)!r} but replaying "
                    f"the generator gives {value}; the cohort was not written by this generator version."
                )
        path = root / "metadata" / "latent_processes.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: expected a cohort written by generate_ehr_cohort.")
        table = pl.read_parquet(path, columns=["code", "emission_prob"])
        proc, codes = self.model.processes, self.model.universe.codes
        expected = [codes[c] for c in proc.member_code]
        same = table.height == len(expected) and table["code"].to_list() == expected
        if not same or not np.allclose(table["emission_prob"].to_numpy(), proc.member_prob, rtol=1e-9, atol=0):
            raise ValueError(
                f"{path}: the latent processes differ from the ones rebuilt from dataset.json (another "
                "generator version or ICD-10-CM code table); the oracle cannot replay this cohort."
            )

    def rows(self, subject_id: np.ndarray, visit_time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(patient index, visit index of t+1) of each row; ValueError naming the first bad row."""
        subject_id = np.asarray(subject_id, dtype=np.int64).reshape(-1)
        visit_time = np.asarray(visit_time, dtype=np.int64).reshape(-1)
        if subject_id.shape != visit_time.shape:
            raise ValueError(f"subject_id {subject_id.shape} and visit_time {visit_time.shape} differ in length.")
        lat = self.latent
        patient = subject_id - FIRST_SUBJECT_ID
        bad = np.flatnonzero((patient < 0) | (patient >= lat.n_patients))
        if bad.size:
            raise ValueError(f"subject_id {subject_id[bad[0]]} (row {bad[0]}) is not a patient of this cohort.")
        # Visits are sorted by patient then time: one global search on (patient, time) keys.
        key = np.repeat(np.arange(lat.n_patients, dtype=np.int64), np.diff(lat.visit_ptr)) << 34
        key |= lat.visit_s - lat.visit_s.min(initial=0)
        query = (patient << 34) | np.clip(visit_time - lat.visit_s.min(initial=0), 0, (1 << 34) - 1)
        at = np.minimum(np.searchsorted(key, query), key.size - 1)
        bad = np.flatnonzero(key[at] != query)
        if bad.size:
            raise ValueError(
                f"visit_time {visit_time[bad[0]]} (row {bad[0]}) is not a visit of subject {subject_id[bad[0]]} "
                "(expected epoch seconds of one of its visits)."
            )
        bad = np.flatnonzero(at + 1 >= lat.visit_ptr[patient + 1])
        if bad.size:
            raise ValueError(
                f"visit_time {visit_time[bad[0]]} (row {bad[0]}) is the last visit of subject "
                f"{subject_id[bad[0]]}: it has no next visit to forecast."
            )
        return patient, at + 1

    def code_ids(self, codes: Sequence[str]) -> np.ndarray:
        """(L,) universe ids of ``codes``; ValueError naming codes the generator cannot emit."""
        unknown = [c for c in codes if c not in self._code_index]
        if unknown:
            raise ValueError(
                f"{len(unknown)} code(s) are not in the cohort's code universe, e.g. {unknown[:3]}; expected "
                "full codes such as 'ICD10CM//E11.9' (code-level labels)."
            )
        return np.array([self._code_index[c] for c in codes], dtype=np.int64)

    def probabilities(self, subject_id: np.ndarray, visit_time: np.ndarray, codes: Sequence[str]) -> np.ndarray:
        """(N, L) float32 ``P(codes[l] at the visit after visit_time | state up to visit_time)``.

        Args:
            subject_id: (N,) int64 subject ids.
            visit_time: (N,) int64 epoch seconds of visit t (the prediction time).
            codes: L label codes, e.g. ``LabelSpace.codes_`` at the code level ("ICD10CM//E11.9").
        """
        cols = self.code_ids(codes)
        patient, visit = self.rows(subject_id, visit_time)
        out = np.empty((patient.size, cols.size), dtype=np.float32)
        block = max(1, _BLOCK_CELLS // max(cols.size, self._member_code.size, self._p_nonempty.size, 1))
        for lo in range(0, patient.size, block):
            hi = min(lo + block, patient.size)
            out[lo:hi] = self.visit_probabilities(patient[lo:hi], visit[lo:hi], cols)
        return out

    def onset_hazard(self, patient: np.ndarray, rank: np.ndarray, active: np.ndarray) -> np.ndarray:
        """(B, Kc) ``P(onset of chronic process k at visit rank j | not active before j, state before j)``.

        Args:
            patient: (B,) patient index; rank: (B,) visit rank j within the patient.
            active: (B, Kc) bool, the processes with a condition of onset < j (their hazard is 0).
        """
        p, j = self.prevalent_fraction, rank.astype(np.float64)[:, None]
        m = self._n_visits[patient][:, None]
        group = self._last_group[patient]

        def base(risk: np.ndarray) -> np.ndarray:
            at_entry = risk * (p + (1.0 - p) / m)
            survival = np.maximum(1.0 - risk * (p + (1.0 - p) * j / m), 1e-12)
            return np.where(j == 0, at_entry, risk * (1.0 - p) / m / survival)

        hazard = base(self._presence_risk[group])
        if self._target_slot.size:  # progression: visit 0 keeps the base hazard, later ones are raised
            target = base(self._target_risk[group][:, self._target_slot])
            multiplier = np.exp(active.astype(np.float64) @ self._log_rr)
            raised = np.minimum(1.0, self._target_scale[None, :] * target * multiplier)
            hazard[:, self._target_slot] = np.where(j == 0, target, raised)
        hazard[active] = 0.0
        return hazard

    def visit_probabilities(self, patient: np.ndarray, visit: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(B, L) float64 probabilities of universe codes ``cols`` at global visit indices ``visit``,
        given the state up to the visit before (module docstring).
        """
        lat, r = self.latent, self.record_prob
        n_rows, n_cols = patient.size, cols.size
        rank = visit - lat.visit_ptr[patient]
        # Conditions active by visit t (onset < rank of t+1); the others are not read.
        n_cond = lat.cond_ptr[patient + 1] - lat.cond_ptr[patient]
        cond = np.repeat(lat.cond_ptr[patient], n_cond) + ragged_arange(n_cond)
        crow = np.repeat(np.arange(n_rows, dtype=np.int64), n_cond)
        keep = lat.onset[cond] < rank[crow]
        cond, crow = cond[keep], crow[keep]
        active = np.zeros((n_rows, self._p_nonempty.size), dtype=bool)
        active[crow, self._chronic_slot[lat.process[cond]]] = True
        size = lat.code_ptr[cond + 1] - lat.code_ptr[cond]
        n_recordable = np.bincount(crow[size > 0], minlength=n_rows)

        column = np.full(len(self.model.universe), -1, dtype=np.int64)
        column[cols] = np.arange(n_cols)
        slot = np.repeat(lat.code_ptr[cond], size) + ragged_arange(size)
        col = column[lat.code[slot]]
        row = np.repeat(crow, size)
        hit = col >= 0
        record_count = np.bincount(row[hit] * n_cols + col[hit], minlength=n_rows * n_cols).reshape(n_rows, n_cols)

        # Onsets at t+1: each inactive process starts with its hazard h and is then recorded for
        # sure with a fresh code set (members independent with e[k, c]).
        hazard = self.onset_hazard(patient, rank, active)
        with np.errstate(divide="ignore"):
            log_absent = np.zeros((n_rows, n_cols))
            member_col = column[self._member_code]
            on = np.flatnonzero(member_col >= 0)
            if on.size:
                on = on[np.argsort(member_col[on], kind="stable")]
                terms = np.log1p(-hazard[:, self._member_slot[on]] * self._member_prob[on][None, :])
                first = np.flatnonzero(np.r_[True, np.diff(member_col[on]) != 0])
                log_absent[:, member_col[on][first]] += np.add.reduceat(terms, first, axis=1)
            log_empty = np.log1p(-hazard * self._p_nonempty[None, :]).sum(axis=1)

        group = lat.visit_group[visit].astype(np.int64)
        background = self.model.processes.background[cols]
        log_absent -= self._acute_code_rate[np.ix_(group, cols)] + background[None, :]
        absent = np.power(1.0 - r, record_count) * np.exp(log_absent)
        empty = np.power(1.0 - r, n_recordable) * np.exp(log_empty + self._log_no_acute[group] + self._log_no_background)
        return 1.0 - absent + empty[:, None] * self._filler[cols][None, :]


def read_params(info_path: Path) -> SynthParams:
    """The :class:`SynthParams` recorded in a cohort's ``dataset.json`` (ValueError naming the field)."""
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{info_path} is not a JSON file written by generate_ehr_cohort ({exc}).") from None
    if not isinstance(info, dict) or info.get("generator") != GENERATOR_NAME:
        got = info.get("generator") if isinstance(info, dict) else None
        raise ValueError(f"{info_path}: field 'generator' is {got!r}; expected {GENERATOR_NAME!r}.")
    version_ = info.get("generator_version")
    if version_ not in KNOWN_GENERATOR_VERSIONS:
        raise ValueError(
            f"{info_path}: field 'generator_version' is {version_!r}; this oracle replays "
            f"{', '.join(KNOWN_GENERATOR_VERSIONS)} only."
        )
    raw = info.get("parameters")
    if not isinstance(raw, dict):
        raise ValueError(f"{info_path}: field 'parameters' is missing or not an object.")
    known = {f.name for f in dataclasses.fields(SynthParams)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{info_path}: field 'parameters.{unknown[0]}' is not a parameter of generator {version_}.")
    values = dict(raw)
    if "split_fractions" in values:
        values["split_fractions"] = tuple(values["split_fractions"])
    try:
        params = SynthParams(**values)
        params.validate()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{info_path}: field 'parameters' is invalid: {exc}") from None
    return params
