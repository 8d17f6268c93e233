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
    grid: dict[str, list[Any]] = Field(default_factory=lambda: {"loss.name": list(DEFAULT_LOSSES), "seed": [0]})


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


def expand(bench: BenchmarkConfig) -> list[GridRun]:
    """All grid cells, in a stable order, each validated as a run config."""
    axes = list(bench.grid)
    runs = []
    for values in itertools.product(*(bench.grid[a] for a in axes)):
        cell = dict(zip(axes, values))
        cell_overrides = [f"{a}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}" for a, v in cell.items()]
        name = "__".join(f"{a.split('.')[-1]}={_slug(v)}" for a, v in cell.items()) or "run"
        overrides = list(bench.set) + cell_overrides + [f"name={name}", f"out_dir={bench.out_dir / bench.name / 'runs'}"]
        if isinstance(bench.base, dict):
            try:
                cfg = RunConfig.model_validate(apply_overrides(bench.base, overrides))
            except ValidationError as err:
                raise ConfigError(f"benchmark {bench.name}: invalid run config for cell {cell}: {err}") from None
        else:
            cfg = load_config(bench.base, overrides)
        runs.append(GridRun(axes=cell, config=cfg, overrides=overrides))
    return runs
