"""``clincode demo``: synthetic cohort -> one EHR Transformer per loss -> evaluation -> report.

The main job: the loss benchmark of Ho et al.'s setting (next-visit forecasting, V = 1,538) on a
small synthetic cohort, ending with the comparison table in the terminal and a report on disk.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from clincode.bench.grid import DEFAULT_LOSSES, BenchmarkConfig
from clincode.data.synthetic.params import DEFAULT_DENSITY
from clincode.io import read_json
from clincode.resources import config_path

DEMO_CODES = 2000  # code universe of the demo cohort; the label space keeps the top 1538


DEMO_PROGRESSION = "clinical"  # the demo's cohort: chronic conditions raise the onset hazard of others


def ensure_cohort(
    path: Path, *, patients: int, seed: int, console: Console, density: str = DEFAULT_DENSITY, progression: str = "none"
) -> Path:
    """Generate the demo cohort unless an identical one is already there (``density``: a name of
    :data:`clincode.data.synthetic.DENSITY_PRESETS`; ``progression``: none or clinical).
    """
    from clincode.data.synthetic import density_preset, generate_ehr_cohort

    preset = density_preset(density)
    meta = path / "metadata" / "dataset.json"
    if meta.is_file():
        params = read_json(meta).get("parameters", {})
        same = params.get("n_patients") == patients and params.get("seed") == seed and params.get("n_codes") == DEMO_CODES
        same = same and params.get("progression", "none") == progression
        if same and all(params.get(key) == value for key, value in preset.items()):
            console.print(f"using existing cohort {path}")
            return path
    console.print(f"generating a synthetic cohort of {patients:,} patients in {path}")
    return generate_ehr_cohort(
        path, n_patients=patients, n_codes=DEMO_CODES, seed=seed, overwrite=True, progress=True, progression=progression, **preset
    )


def density_suffix(density: str) -> str:
    """``""`` for the default density (the demo's paths stay as they were), else ``"-<density>"``."""
    return "" if density == DEFAULT_DENSITY else f"-{density}"


def progression_suffix(progression: str) -> str:
    """``""`` for the generator without progression (the paths of the figures documented with it),
    ``"-<progression>"`` otherwise.
    """
    return "" if progression == "none" else f"-{progression}"


DEFAULT_CONFIG = "demo"


def demo_config(name: str | Path) -> Path:
    """The run config of the demo's runs: a YAML file, or a packaged config name (``demo``, ``demo_behrt``, ...)."""
    path = Path(name)
    if path.is_file():
        return path
    try:
        return config_path(str(name))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"--config {name}: not a file, and {exc}") from None


def config_suffix(config: str | Path) -> str:
    """``""`` for the default demo config, else ``"-<config stem>"`` (each config gets its own runs)."""
    stem = Path(config).stem
    return "" if stem == DEFAULT_CONFIG else f"-{stem}"


def train_label_codes(cohort: Path, overrides: list[str] | None = None, config: str | Path = DEFAULT_CONFIG) -> int:
    """Distinct labels the next-visit task would see in the training split: the upper bound for V.

    Counted by the task itself (the ``next_visit`` task of ``TASKS``, built in memory with
    ``num_labels=None`` and the demo run config's data settings), so the cap is the number the
    run's LabelSpace checks against.
    """
    from clincode.config import load_config
    from clincode.tasks import TASKS
    from clincode.tasks.base import InMemoryBuildTask

    cfg = load_config(demo_config(config), [f"data.path={cohort}", *(overrides or [])])
    task = TASKS.get("next_visit")()
    if not isinstance(task, InMemoryBuildTask):
        raise TypeError(f"task {task.name!r} cannot build its data in memory")
    return task.build_in_memory(cohort, cfg, num_labels=None).num_labels


def check_demo_config(config: str | Path = DEFAULT_CONFIG) -> None:
    """Load the demo's run config and check its task's data.params (before anything is generated)."""
    from clincode.config import load_config
    from clincode.tasks import resolve_data

    resolve_data(load_config(demo_config(config)))


def check_demo_options(out_dir: Path, *, patients: int, epochs: int, num_labels: int, losses: list[str]) -> None:
    """Reject impossible sizes, unknown losses and an unusable output before anything is created."""
    from clincode.data.synthetic.params import min_patients_for_splits
    from clincode.io import check_free_space, check_writable_dir
    from clincode.losses import LOSSES

    if not losses:
        raise ValueError("--losses names no loss")
    for name in losses:
        LOSSES.get(name)  # a misspelt loss fails before generating anything
    smallest = min_patients_for_splits()
    if isinstance(patients, bool) or not isinstance(patients, int) or patients < smallest:
        raise ValueError(f"--patients must be an integer >= {smallest} (every split needs patients); got {patients!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"--epochs must be an integer >= 1; got {epochs!r}")
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 1:
        raise ValueError(f"--num-labels must be an integer >= 1; got {num_labels!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"--out {out_dir} is a file; expected a directory for the cohort, runs and report")
    parent = out_dir if out_dir.exists() else out_dir.parent
    if not parent.exists():
        raise FileNotFoundError(f"{parent} does not exist; create the parent directory of --out {out_dir} first")
    if not parent.is_dir():
        raise NotADirectoryError(f"{parent} is a file; --out {out_dir} needs a directory as its parent")
    check_writable_dir(parent, f"--out {out_dir}")
    check_free_space(parent, estimate_demo_bytes(patients, len(losses)), f"the demo in {out_dir}")


def estimate_demo_bytes(patients: int, n_runs: int) -> int:
    """Disk use of a demo: the cohort plus each run's checkpoints, predictions and figures."""
    from clincode.data.synthetic.ehr import estimate_cohort_bytes

    return estimate_cohort_bytes(patients, DEMO_CODES) + n_runs * RUN_BYTES


RUN_BYTES = 60 * 2**20  # a demo run: model, best and last checkpoints (~5 MB each), logs, tables, figures


def demo_benchmark(
    out_dir: Path, cohort: Path, *, epochs: int, losses: list[str], seed: int, num_labels: int,
    density: str = DEFAULT_DENSITY, config: str | Path = DEFAULT_CONFIG, progression: str = "none",
) -> BenchmarkConfig:
    return BenchmarkConfig(
        name=f"demo-e{epochs}-s{seed}{density_suffix(density)}{progression_suffix(progression)}{config_suffix(config)}",
        out_dir=out_dir,
        base=demo_config(config),
        set=[f"data.path={cohort}", f"trainer.max_epochs={epochs}", f"data.params.num_labels={num_labels}"],
        grid={"loss.name": list(losses), "seed": [seed]},
    )


def run_demo(
    out_dir: Path,
    *,
    patients: int,
    epochs: int,
    losses: list[str] | None = None,
    seed: int,
    num_labels: int = 1538,
    console: Console,
    verbose: bool = False,
    density: str = DEFAULT_DENSITY,
    config: str | Path = DEFAULT_CONFIG,
    progression: str = DEMO_PROGRESSION,
    table_console: Console | None = None,
) -> Path:
    """Cohort, one run per loss, report. Options are checked before anything is written; without
    ``verbose`` each run prints one line and its full output goes to its log file. ``density`` names
    the cohort's visit density (:data:`clincode.data.synthetic.DENSITY_PRESETS`); a density other
    than the default gets its own cohort and benchmark directories (``-<density>`` suffix); so does
    a run ``config`` other than ``demo`` (``-<config>``), e.g. ``demo_behrt``, the earlier setting.
    ``progression``: the cohort's disease progression (default clinical; ``none`` is the generator
    without it, ``-<progression>`` suffix otherwise). Beside the runs, the benchmark fits the history
    baselines, ``history_bayes`` (the Bayes forecast from the history alone) and the oracle (the
    Bayes forecast from the latent state) on the same rows.
    """
    from clincode.bench.runner import run_benchmark
    from clincode.report.benchmark import build_report

    losses = list(DEFAULT_LOSSES) if losses is None else losses
    out_dir = Path(out_dir)
    check_demo_options(out_dir, patients=patients, epochs=epochs, num_labels=num_labels, losses=losses)
    from clincode.data.synthetic import density_preset

    density_preset(density)  # an unknown name fails before anything is written
    check_demo_config(config)  # so does an unknown config, or an unknown or invalid key in it
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    cohort = ensure_cohort(
        out_dir / f"cohort-{patients}-seed{seed}{density_suffix(density)}{progression_suffix(progression)}", patients=patients,
        seed=seed, console=console, density=density, progression=progression,
    )  # fmt: skip
    seen = train_label_codes(cohort, config=config)
    if seen < num_labels:
        console.print(f"[yellow]the cohort's training split has {seen} distinct labels: using V = {seen} labels, not {num_labels}[/yellow]")
        num_labels = seen
    bench = demo_benchmark(
        out_dir, cohort, epochs=epochs, losses=losses, seed=seed, num_labels=num_labels, density=density, config=config,
        progression=progression,
    )
    root = run_benchmark(bench, console=console, verbose=verbose, table_console=table_console)
    report = build_report(root)
    console.print(f"\nreport: {report}\n({time.perf_counter() - start:.0f} s in all)")
    return report
