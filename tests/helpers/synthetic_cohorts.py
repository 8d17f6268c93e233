"""Small synthetic cohorts shared by the synthetic-generator tests (generated once per session)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache, lru_cache
from pathlib import Path

import polars as pl

from clincode.data.synthetic import generate_ehr_cohort

N_PATIENTS = 3000
N_CODES = 400
SHARD_SIZE = 1000


@lru_cache(maxsize=1)
def _root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="clincode-synth-tests-"))
    atexit.register(shutil.rmtree, root, True)
    return root


@cache
def cohort(seed: int = 7, name: str = "a", n_patients: int = N_PATIENTS, n_codes: int = N_CODES) -> Path:
    """A generated cohort directory (cached by arguments; ``name`` gives an independent copy)."""
    out = _root() / f"{name}-seed{seed}-{n_patients}-{n_codes}"
    return generate_ehr_cohort(
        out, n_patients=n_patients, n_codes=n_codes, seed=seed, shard_size=SHARD_SIZE, progress=False
    )


@cache
def events(seed: int = 7) -> pl.DataFrame:
    """All event rows of ``cohort(seed)`` in file order, with the shard file name."""
    files = sorted((cohort(seed) / "data").glob("*.parquet"))
    return pl.concat([pl.read_parquet(f).with_columns(shard=pl.lit(f.name)) for f in files])


@cache
def diagnoses(seed: int = 7) -> pl.DataFrame:
    """Diagnosis rows with the patient's sex, birth and visit number (1-based, by time)."""
    ev = events(seed)
    sex = ev.filter(pl.col("code").str.starts_with("GENDER//")).select(
        "subject_id", sex=pl.col("code").str.strip_prefix("GENDER//")
    )
    birth = ev.filter(pl.col("code") == "MEDS_BIRTH").select("subject_id", birth=pl.col("time"))
    dx = ev.filter(pl.col("code").str.starts_with("ICD10CM//")).join(sex, on="subject_id").join(birth, on="subject_id")
    visits = (
        dx.select("subject_id", "time").unique().sort("subject_id", "time")
        .with_columns(visit=pl.col("time").rank("ordinal").over("subject_id"), n_visits=pl.len().over("subject_id"))
    )  # fmt: skip
    return dx.join(visits, on=["subject_id", "time"])


def metadata(seed: int, name: str) -> pl.DataFrame:
    return pl.read_parquet(cohort(seed) / "metadata" / f"{name}.parquet")
