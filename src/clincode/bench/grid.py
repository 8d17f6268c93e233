"""Benchmark grids: (dataset x model x loss x seed x any config key) -> tidy results.

A benchmark config is YAML::

    name: losses                      # benchmark name; its directory is <out_dir>/<name>
    out_dir: benchmarks-out
    base: configs/next_visit.yaml     # a run config file (path relative to this file), or a mapping
    set: [trainer.max_epochs=5]       # overrides applied to the base
    grid:                             # every key of a run config can be an axis
      loss.name: [bce, weighted_bce, class_balanced, focal, asymmetric, dependency_aware]
      seed: [0, 1, 2]

Every combination becomes one run directory under ``<out_dir>/<name>/runs/``. Runs already
finished are skipped, so an interrupted benchmark resumes where it stopped.

Reference rows: a next-visit benchmark also runs the history baselines fitted in one pass
(``baselines``, default :data:`clincode.forecasters.BASELINES`, plus ``history_bayes`` and ``oracle``
on a synthetic cohort), once each with the first seed, on the same data and rows as the grid; they cost seconds.
Every row of the results then has a ``model.name`` axis. ``baselines: []`` leaves them out.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clincode.config import ConfigError, RunConfig, apply_overrides, load_config, read_yaml_mapping

DEFAULT_LOSSES = ["bce", "weighted_bce", "class_balanced", "focal", "asymmetric", "dependency_aware"]


class BenchmarkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "benchmark"
    out_dir: Path = Path("benchmarks-out")
    base: Path | dict[str, Any] | None = None
    set: list[str] = Field(default_factory=list)
    grid: dict[str, list[Any]] = Field(default_factory=lambda: {"loss.name": list[Any](DEFAULT_LOSSES), "seed": list[Any]([0])})
    #: one-pass reference forecasters run beside a next-visit grid (None: the defaults, see module docstring)
    baselines: list[str] | None = None

    def axes(self) -> list[str]:
        """The axes of the result rows: the grid's, then ``model.name`` when reference rows are added."""
        return list(self.grid) + (["model.name"] if "model.name" not in self.grid else [])


@dataclass
class GridRun:
    """One cell of the grid: its axis values and its resolved run config."""

    axes: dict[str, Any]
    config: RunConfig
    overrides: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.config.name


def _slug(value: Any) -> str:
    text = Path(str(value)).name if isinstance(value, str) and "/" in str(value) else str(value)
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-") or "x"


def load_benchmark(path: Path, extra_overrides: list[str] | None = None) -> BenchmarkConfig:
    path = Path(path)
    raw = read_yaml_mapping(path, "benchmark config")
    try:
        bench = BenchmarkConfig.model_validate(raw)
    except ValidationError as err:
        keys = ", ".join(".".join(map(str, e["loc"])) + f" ({e['msg']})" for e in err.errors())
        raise ConfigError(f"invalid benchmark config {path}: {keys}") from None
    if isinstance(bench.base, Path) and not bench.base.is_absolute():
        bench.base = (path.parent / bench.base).resolve()
    # Every run's name and out_dir come from the grid, so `--set name=...` / `--set out_dir=...`
    # can only mean the benchmark's own name and directory.
    run_overrides = []
    for item in extra_overrides or []:
        key, _, value = (part.strip() for part in item.partition("="))
        if key == "name" or key == "out_dir":
            if not value:
                raise ConfigError(f"--set {item}: {key} needs a value")
            if key == "name":
                bench.name = value
            else:
                bench.out_dir = Path(value)
        else:
            run_overrides.append(item)
    bench.set = list(bench.set) + run_overrides
    for axis, values in bench.grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"benchmark config {path}: grid axis {axis!r} must be a non-empty list")
    return bench


def _resolve(bench: BenchmarkConfig, overrides: list[str], what: str) -> RunConfig:
    """A grid cell's run config, its task's data.params checked and filled in (before any run starts)."""
    from clincode.tasks import resolve_data

    if isinstance(bench.base, dict):
        try:
            cfg = RunConfig.model_validate(apply_overrides(bench.base, overrides))
        except ValidationError as err:
            raise ConfigError(f"benchmark {bench.name}: invalid run config for {what}: {err}") from None
    else:
        cfg = load_config(bench.base, overrides)
    try:
        return resolve_data(cfg)
    except ConfigError as exc:
        raise ConfigError(f"benchmark {bench.name}: {what}: {exc}") from None


def _value(v: Any) -> str:
    return yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()


def expand(bench: BenchmarkConfig) -> list[GridRun]:
    """All grid cells, in a stable order, each validated as a run config; then the reference rows."""
    axes = list(bench.grid)
    runs = []
    out_dir = f"out_dir={bench.out_dir / bench.name / 'runs'}"
    for values in itertools.product(*(bench.grid[a] for a in axes)):
        cell = dict(zip(axes, values, strict=True))
        cell_overrides = [f"{a}={_value(v)}" for a, v in cell.items()]
        name = "__".join(f"{a.split('.')[-1]}={_slug(v)}" for a, v in cell.items()) or "run"
        overrides = list(bench.set) + cell_overrides + [f"name={name}", out_dir]
        cfg = _resolve(bench, overrides, f"cell {cell}")
        runs.append(GridRun(axes=cell, config=cfg, overrides=overrides))
    baselines = reference_rows(bench, runs[0].config) if runs else []
    if "model.name" not in bench.grid and baselines:
        for run in runs:
            run.axes["model.name"] = run.config.model.name
    for name in baselines:
        cell = {a: "-" for a in axes if a not in ("seed", "model.name")}
        cell.update({"seed": runs[0].axes.get("seed", runs[0].config.seed), "model.name": name})
        overrides = list(bench.set) + [f"seed={_value(cell['seed'])}", f"model.name={name}", "model.params={}", f"name=baseline={name}", out_dir]
        runs.append(GridRun(axes={a: cell[a] for a in bench.axes() if a in cell}, config=_resolve(bench, overrides, f"baseline {name}"), overrides=overrides))
    return runs


def reference_rows(bench: BenchmarkConfig, cfg: RunConfig) -> list[str]:
    """The one-pass reference models of a benchmark whose runs look like ``cfg`` (its task's, if any)."""
    from clincode.forecasters import FORECASTERS
    from clincode.tasks import task_for
    from clincode.tasks.base import ReferenceModelsTask

    if bench.baselines is not None:
        for name in bench.baselines:
            FORECASTERS.get(name)  # an unknown name fails before any run
        return list(bench.baselines)
    task = task_for(cfg)
    return task.reference_models(cfg) if isinstance(task, ReferenceModelsTask) else []
