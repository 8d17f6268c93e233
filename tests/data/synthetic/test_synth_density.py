"""Named visit densities of the synthetic EHR generator: the default cohort is unchanged, the
admission preset gives 15-20 codes per visit (and per next-visit target row) with a valid
true_dependency.parquet; the --density option of `synth ehr` and `demo`.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from clincode.cli import app
from clincode.data.synthetic import DENSITY_PRESETS, density_preset, generate_ehr_cohort
from clincode.data.synthetic.params import DEFAULT_DENSITY

runner = CliRunner()

# The default cohort of generate_ehr_cohort(n_patients=300, n_codes=200, seed=11, shard_size=100) as
# generated before the density presets existed (generator 1.0). The discrete content (events,
# splits, code list, coupled pairs) is pinned exactly; the float couplings are pinned at a
# tolerance, since numpy computes them with SIMD log/exp kernels chosen at run time (AVX-512 and
# AVX2 machines differ in the last bits).
DEFAULT_DIGEST = "e77907992989048b1946a5bb78684786e4ded1d67acc2c5d1b0f976bf21ba121"
# sum of the couplings and their sum weighted by default_rng(0).random(n), pairs in file order
DEFAULT_COUPLING = (65.61030894977924, 33.634339493009996)
COUPLING_RTOL = 1e-9

GENERATE = (
    "import json, sys; from pathlib import Path; "
    "from clincode.data.synthetic import generate_ehr_cohort; "
    "sys.path.insert(0, sys.argv[2]); from test_synth_density import cohort_fingerprint; "
    "root = generate_ehr_cohort(Path(sys.argv[1]), n_patients=300, n_codes=200, seed=11, shard_size=100, progress=False); "
    "digest, coupling = cohort_fingerprint(root); print(json.dumps([digest, coupling.tolist()]))"
)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def cohort_fingerprint(root: Path) -> tuple[str, np.ndarray]:
    """(hash of the discrete content, couplings in file order).

    The hash covers the events, splits, code list and the coupled pairs (not parquet bytes or code
    descriptions, which depend on library versions, and not the float couplings, returned apart).
    """
    h = hashlib.sha256()
    for f in sorted((root / "data").glob("*.parquet")):
        ev = pl.read_parquet(f)
        for s, t, c in zip(ev["subject_id"].to_list(), ev["time"].dt.epoch("us").to_list(), ev["code"].to_list(), strict=True):
            h.update(f"{s},{t},{c}\n".encode())
    for name, cols in (("subject_splits", None), ("true_dependency", ["code_a", "code_b"]), ("codes", ["code"])):
        for row in pl.read_parquet(root / "metadata" / f"{name}.parquet", columns=cols).iter_rows():
            h.update((repr(row) + "\n").encode())
    coupling = pl.read_parquet(root / "metadata" / "true_dependency.parquet", columns=["coupling"])["coupling"].to_numpy()
    return h.hexdigest(), coupling


def coupling_summary(coupling: np.ndarray) -> tuple[float, float]:
    weights = np.random.default_rng(0).random(coupling.size)
    return float(coupling.sum()), float(coupling @ weights)


def _generate_with(env: dict[str, str], out: Path) -> tuple[str, np.ndarray]:
    proc = subprocess.run(
        [sys.executable, "-c", GENERATE, str(out), str(Path(__file__).parent)],
        env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    digest, coupling = json.loads(proc.stdout.strip().splitlines()[-1])
    return digest, np.asarray(coupling)


def test_outpatient_preset_is_the_default():
    defaults = inspect.signature(generate_ehr_cohort).parameters
    assert DEFAULT_DENSITY == "outpatient"
    assert set(DENSITY_PRESETS["admission"]) == set(DENSITY_PRESETS["outpatient"])
    for key, value in density_preset("outpatient").items():
        assert defaults[key].default == value, key
    with pytest.raises(ValueError, match="density must be one of outpatient, admission"):
        density_preset("inpatient")


def test_default_cohort_is_unchanged(tmp_path):
    kwargs = dict(n_patients=300, n_codes=200, seed=11, shard_size=100, progress=False)
    plain = generate_ehr_cohort(tmp_path / "plain", **kwargs)
    explicit = generate_ehr_cohort(tmp_path / "explicit", **kwargs, **density_preset("outpatient"))
    a, b = _files(plain), _files(explicit)
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)  # byte-identical, dataset.json included
    digest, coupling = cohort_fingerprint(plain)
    message = "the default synthetic cohort changed; if intended, bump GENERATOR_VERSION and update DEFAULT_DIGEST"
    assert digest == DEFAULT_DIGEST, message
    np.testing.assert_allclose(coupling_summary(coupling), DEFAULT_COUPLING, rtol=COUPLING_RTOL, err_msg=message)


@pytest.mark.slow
def test_generator_does_not_depend_on_the_simd_kernels(tmp_path):
    """The same cohort with numpy's run-time SIMD dispatch on (this CPU's best kernels) and off
    (baseline kernels; OpenBLAS at a pre-AVX core): identical events, couplings equal to rounding.
    """
    from numpy._core._multiarray_umath import __cpu_dispatch__

    native = _generate_with({}, tmp_path / "native")
    baseline = _generate_with(
        {"NPY_DISABLE_CPU_FEATURES": " ".join(__cpu_dispatch__), "OPENBLAS_CORETYPE": "Nehalem"}, tmp_path / "baseline"
    )
    assert native[0] == baseline[0] == DEFAULT_DIGEST
    np.testing.assert_allclose(native[1], baseline[1], rtol=COUPLING_RTOL, atol=0)


@pytest.fixture(scope="module")
def admission(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("admission") / "cohort"
    return generate_ehr_cohort(out, n_patients=400, n_codes=2000, seed=3, progress=False, **density_preset("admission"))


def test_admission_has_15_to_20_codes_per_visit(admission):
    from clincode.tasks.next_visit.build import build_next_visit
    from clincode.tasks.next_visit.task import next_visit_label_stats

    ev = pl.concat([pl.read_parquet(f) for f in sorted((admission / "data").glob("*.parquet"))])
    per_visit = ev.filter(pl.col("code").str.starts_with("ICD10CM//")).group_by("subject_id", "time").len()["len"]
    assert 15.0 <= per_visit.mean() <= 20.0, per_visit.mean()
    # the prepared next-visit task: positives per target row (train split, every label seen there)
    data = build_next_visit(admission, num_labels=None, progress=False)
    stats = next_visit_label_stats(data, "train")
    per_row = stats.positives.sum() / stats.n_rows
    assert 15.0 <= per_row <= 20.0, per_row
    info = json.loads((admission / "metadata" / "dataset.json").read_text())
    assert info["parameters"]["mean_codes_per_visit"] == DENSITY_PRESETS["admission"]["mean_codes_per_visit"]


def test_admission_true_dependency_is_valid(admission):
    dep = pl.read_parquet(admission / "metadata" / "true_dependency.parquet")
    assert dep.schema == pl.Schema({"code_a": pl.String, "code_b": pl.String, "coupling": pl.Float64})
    assert dep.height > 1000
    assert (dep["code_a"] < dep["code_b"]).all() and (dep["coupling"] > 0).all() and (dep["coupling"] <= 1).all()
    assert dep.select(pl.struct("code_a", "code_b").n_unique()).item() == dep.height
    used = set(pl.read_parquet(admission / "metadata" / "codes.parquet")["code"])
    assert set(dep["code_a"]) | set(dep["code_b"]) <= used
    # coupling = sum over shared processes of e[k, a] e[k, b], from latent_processes.parquet
    proc = pl.read_parquet(admission / "metadata" / "latent_processes.parquet")
    pairs = (
        proc.join(proc, on="process_id", suffix="_b")
        .filter(pl.col("code") < pl.col("code_b"))
        .group_by(code_a="code", code_b="code_b")
        .agg(coupling=(pl.col("emission_prob") * pl.col("emission_prob_b")).sum())
        .filter(pl.col("code_a").is_in(list(used)) & pl.col("code_b").is_in(list(used)))
    )
    joined = dep.join(pairs, on=["code_a", "code_b"], how="full", coalesce=True)
    assert joined.height == dep.height == pairs.height
    np.testing.assert_allclose(joined["coupling"].to_numpy(), joined["coupling_right"].to_numpy(), rtol=1e-9)
    # and the data carry it: truly coupled pairs co-occur more often than chance
    dx = pl.concat([pl.read_parquet(f) for f in sorted((admission / "data").glob("*.parquet"))]).filter(
        pl.col("code").str.starts_with("ICD10CM//")
    )
    visits = dx.select("subject_id", "time").n_unique()
    n = dict(dx.group_by("code").len().iter_rows())
    co = (
        dx.join(dx, on=["subject_id", "time"], suffix="_b")
        .filter(pl.col("code") < pl.col("code_b"))
        .group_by(code_a="code", code_b="code_b")
        .len()
    )
    co = co.join(dep.select("code_a", "code_b", coupled=pl.lit(True)), on=["code_a", "code_b"], how="left")
    expected = np.array([n[a] * n[b] / visits for a, b in zip(co["code_a"], co["code_b"], strict=True)])
    ratio = np.log(co["len"].to_numpy() / expected)
    coupled = co["coupled"].fill_null(False).to_numpy()
    ok = expected >= 1.0
    assert ratio[ok & coupled].mean() > ratio[ok & ~coupled].mean() + 0.5


def test_cli_density_option(tmp_path):
    res = runner.invoke(app, ["synth", "ehr", "--out", str(tmp_path / "a"), "--patients", "20", "--codes", "60",
                              "--density", "Admission"])  # fmt: skip
    assert res.exit_code == 0, res.output
    params = json.loads((tmp_path / "a" / "metadata" / "dataset.json").read_text())["parameters"]
    assert {k: params[k] for k in DENSITY_PRESETS["admission"]} == DENSITY_PRESETS["admission"]
    res = runner.invoke(app, ["synth", "ehr", "--out", str(tmp_path / "b"), "--patients", "20", "--density", "icu"])
    assert res.exit_code == 1 and "--density must be one of outpatient, admission" in res.output
    assert not (tmp_path / "b").exists()
    res = runner.invoke(app, ["demo", "--out", str(tmp_path / "d"), "--density", "icu"])
    assert res.exit_code == 1 and "--density must be one of outpatient, admission" in res.output
    assert not (tmp_path / "d").exists()
    for command in (["synth", "ehr"], ["demo"]):
        assert "--density" in runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"}).output


def test_demo_keeps_densities_apart(tmp_path):
    from rich.console import Console

    from clincode.demo import demo_benchmark, density_suffix, ensure_cohort

    text = io.StringIO()
    console = Console(file=text, width=200)
    assert density_suffix("outpatient") == "" and density_suffix("admission") == "-admission"
    bench = demo_benchmark(tmp_path, tmp_path / "c", epochs=4, losses=["bce"], seed=0, num_labels=10)
    assert bench.name == "demo-e4-s0"  # the default demo's paths are unchanged
    bench = demo_benchmark(tmp_path, tmp_path / "c", epochs=4, losses=["bce"], seed=0, num_labels=10, density="admission")
    assert bench.name == "demo-e4-s0-admission"
    path = tmp_path / "cohort"
    ensure_cohort(path, patients=20, seed=0, console=console)
    ensure_cohort(path, patients=20, seed=0, console=console)  # identical: reused
    assert text.getvalue().count("using existing cohort") == 1
    ensure_cohort(path, patients=20, seed=0, console=console, density="admission")  # other density: regenerated
    assert text.getvalue().count("using existing cohort") == 1 and text.getvalue().count("generating") == 2
    params = json.loads((path / "metadata" / "dataset.json").read_text())["parameters"]
    assert params["mean_codes_per_visit"] == DENSITY_PRESETS["admission"]["mean_codes_per_visit"]
