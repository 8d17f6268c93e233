"""One tiny trained run shared by the training / evaluation / CLI tests (trained once per session)."""

from pathlib import Path

import pytest
from rich.console import Console

from clincode.config import load_config
from clincode.data.synthetic import generate_ehr_cohort
from clincode.resources import config_path
from train_test_helpers import tiny_overrides


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
