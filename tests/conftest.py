"""Session fixtures shared across the test folders.

- ``tiny_cohort`` / ``tiny_run``: one tiny synthetic cohort and one tiny trained run shared by the
  training / evaluation / CLI / benchmark tests (each built once per session).
- every test session keeps clincode's cache (``CLINCODE_CACHE_DIR``, e.g. the ICD-10-CM table) in a
  folder of its own, so tests neither read nor write the user's cache.
- ``shared_data``: the real datasets kept beside the repository, in ``../shared/data`` relative to
  the repository root (CodiEsp, the MIMIC-IV demo). Set the environment variable
  ``CLINCODE_SHARED_DATA`` to another folder to read them from there (a missing folder makes those
  tests skip, which is how the skip path is checked). A test that asks for a dataset that is
  absent is skipped with the reason, never failed; such tests must be marked ``slow`` (checked at
  collection).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console

from clincode.config import load_config
from clincode.data.synthetic import generate_ehr_cohort
from clincode.io import CACHE_ENV
from clincode.resources import config_path
from helpers.training import tiny_overrides

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA_ENV = "CLINCODE_SHARED_DATA"

# name in the shared data folder -> (a file that must exist in it, what the dataset is)
SHARED_DATASETS = {
    "codiesp": ("train/trainD.tsv", "the CodiEsp release"),
    "mimic-iv-demo-2.2": ("hosp/patients.csv.gz", "the MIMIC-IV clinical database demo 2.2"),
}


@pytest.fixture(scope="session", autouse=True)
def _session_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("cache")))
        yield


def shared_data_dir() -> Path:
    """``$CLINCODE_SHARED_DATA`` if set, else ``../shared/data`` beside the repository root."""
    override = os.environ.get(SHARED_DATA_ENV)
    return Path(override) if override else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Callable[[str], Path]:
    """``shared_data("codiesp")`` is the dataset's folder; skips the test when it is absent."""

    def locate(name: str) -> Path:
        required, what = SHARED_DATASETS[name]
        root = shared_data_dir() / name
        if not (root / required).is_file():
            pytest.skip(f"needs ../shared/data/{name} ({what}), absent here: no {root / required}")
        return root

    return locate


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that reads the shared data must be marked ``slow``: refuse the run otherwise."""
    unmarked = [
        item.nodeid
        for item in items
        if "shared_data" in getattr(item, "fixturenames", ()) and item.get_closest_marker("slow") is None
    ]
    if unmarked:
        raise pytest.UsageError("tests reading ../shared/data must be marked slow: " + ", ".join(unmarked))


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cohort") / "meds"
    return generate_ehr_cohort(out, n_patients=400, n_codes=300, seed=7, progress=False)


@pytest.fixture(scope="session")
def tiny_run(tiny_cohort, tmp_path_factory) -> Path:
    from clincode.train.fit import train_run

    out_dir = tmp_path_factory.mktemp("runs")
    cfg = load_config(config_path("demo"), tiny_overrides(tiny_cohort, out_dir))
    return train_run(cfg, console=Console(quiet=True))
