"""Typed run configuration: a YAML file, then ``--set a.b=value`` overrides.

Unknown keys are rejected with the key named. Model, loss and task parameters (``model.params``,
``loss.params``, ``data.params``) are free-form mappings here, checked against the named model's /
loss's constructor and the named task's own schema (``clincode.tasks``) at the first step of every
command, so a misspelt parameter fails before any data work or training starts. This module names
no task: it is the bottom layer the tasks read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


#: Sections of the data layout before ``params``: ``data.text`` held the text task's settings.
OLD_DATA_SECTIONS = ("text",)


class DataConfig(_Strict):
    """``data``: which task, its dataset and its settings.

    ``params`` are free-form here; the registered task's own schema checks them (unknown keys and
    values named) before any data work, as models and losses check theirs. Keys of the layout before
    ``params`` (settings directly under ``data``, the ``data.text`` section) are kept aside as
    :attr:`old_layout` for the task's schema to map into its params.
    """

    task: str | None = Field(None, description="the task (`clincode list tasks`); None: the default task")
    path: Path | None = Field(
        None,
        description="the task's dataset (a MEDS directory, a CodiEsp release or notes table); "
        "None: preparing the task raises a ValueError asking for --set data.path=DIR",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="the task's settings (`clincode list tasks`)")
    _old_layout: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_old_layout(cls, data: Any, handler: Any) -> Any:
        old: dict[str, Any] = {}
        if isinstance(data, dict):
            old = {k: v for k, v in data.items() if k not in cls.model_fields}
            data = {k: v for k, v in data.items() if k in cls.model_fields}
        out = handler(data)
        if old:
            out._old_layout = old
        return out

    @property
    def old_layout(self) -> dict[str, Any]:
        """Keys of the layout before ``params`` (e.g. ``num_labels``, ``text``) as the config held them."""
        return dict(self._old_layout)


class ModelConfig(_Strict):
    name: str = "ehr_transformer"
    params: dict[str, Any] = Field(default_factory=dict)


class LossConfig(_Strict):
    name: str = "bce"
    params: dict[str, Any] = Field(default_factory=dict)


class OptimConfig(_Strict):
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    loss_lr: float | None = Field(None, gt=0, description="learning rate of the loss's own parameters (None: lr)")
    loss_weight_decay: float = Field(0.0, ge=0, description="weight decay of the loss's own parameters (e.g. W) [ours]")
    warmup_steps: int = Field(0, ge=0)


class TrainerConfig(_Strict):
    max_epochs: int = Field(20, gt=0)
    batch_size: int = Field(64, gt=0)
    eval_batch_size: int = Field(128, gt=0)
    accelerator: str = "cpu"
    devices: int | str = 1
    num_nodes: int = Field(1, gt=0)
    strategy: str = "auto"
    precision: str = "32-true"
    gradient_clip_val: float | None = Field(1.0, ge=0, description="gradient norm clip (null or 0: no clipping)")
    monitor: str = Field("val/auprc_micro", description="validation metric for early stopping and best checkpoint")
    monitor_mode: Literal["max", "min"] = "max"
    patience: int = Field(3, ge=1)
    num_workers: int = Field(0, ge=0)
    limit_train_batches: float | int | None = Field(None, gt=0)
    progress: bool = True
    deterministic: bool = False


class EvalConfig(_Strict):
    ks: list[int] = Field(default_factory=lambda: [5, 8, 15])
    n_bootstrap: int = Field(200, ge=0)
    ci: float = Field(0.95, gt=0, lt=1)
    threshold_min_positives: int = Field(5, ge=1)


class RunConfig(_Strict):
    name: str = "run"
    seed: int = 0
    out_dir: Path = Path("runs")
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)

    @field_validator("name")
    @classmethod
    def _one_path_component(cls, value: str) -> str:
        # The run directory is out_dir/name: a name that is a path would write outside out_dir.
        if not value or value in (".", "..") or "/" in value or "\\" in value or "\0" in value:
            raise ValueError(f"name must be one path component (no '/', '\\', '.' or '..'); got {value!r}")
        return value


def _format_error(err: ValidationError, source: str) -> str:
    parts = []
    for e in err.errors():
        key = ".".join(str(x) for x in e["loc"])
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown key {key!r}")
        else:
            parts.append(f"{key}: {e['msg']}")
    return f"invalid config {source}: " + "; ".join(parts)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``a.b.c=value``; the value is read as YAML (numbers, booleans, lists, null)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.path=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: the value is not valid YAML ({' '.join(str(exc).split())})") from None
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides to a raw config mapping (returns a new dict).

    Overrides of the data layout before ``params`` (``data.num_labels``, ``data.text.min_df``) keep
    working: see :func:`_params_path`.
    """
    import copy

    out = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        path = _params_path(out, path)
        node = out
        for part in path[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {text!r}: {part!r} is not a section")
            node = nxt
        node[path[-1]] = value
    return out


def _params_path(raw: dict[str, Any], path: list[str]) -> list[str]:
    """Where an override of the layout before ``params`` goes: ``data.K`` and ``data.text.K`` stay
    where a config of that layout holds them (its task maps them), else they set ``data.params.K``.
    """
    if len(path) < 2 or path[0] != "data" or path[1] in DataConfig.model_fields:
        return path
    data = raw.get("data")
    if isinstance(data, dict) and path[1] in data:
        return path
    if path[1] in OLD_DATA_SECTIONS:
        return ["data", "params", *path[2:]] if len(path) > 2 else path
    return ["data", "params", *path[1:]]


def read_yaml_mapping(path: Path, what: str = "config file") -> dict[str, Any]:
    """The top-level mapping of a YAML file; a missing, non-UTF-8, invalid or non-mapping file
    raises one :class:`ConfigError` naming the file.
    """
    from clincode.io import read_text_file

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{what} {path} does not exist")
    try:
        text = read_text_file(path, f"a YAML {what}")
    except (OSError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"{what} {path} is not valid YAML: {detail}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{what} {path} must hold a mapping at top level, not a {type(loaded).__name__}")
    return loaded


def load_config(path: Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML config (or the defaults when ``path`` is None), apply overrides, validate."""
    raw: dict[str, Any] = {}
    source = "(defaults)"
    if path is not None:
        source = str(path)
        raw = read_yaml_mapping(Path(path), "config file")
    raw = apply_overrides(raw, overrides or [])
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_error(err, source)) from None


def config_to_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
