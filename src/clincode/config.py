"""Typed run configuration: a YAML file, then ``--set a.b=value`` overrides.

Unknown keys are rejected with the key named. Model and loss parameters are free-form mappings
here but are checked against the constructor of the named model / loss when the run is built,
so a misspelt parameter fails before any training starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TextDataConfig(_Strict):
    """``data.text``: the notes dataset and text pipeline of a ``task: coding`` run (docs/methods.md section 4)."""

    format: Literal["auto", "codiesp", "table"] = Field(
        "auto", description="auto: a directory with train/dev/test is CodiEsp, else a notes table (file or dir/notes.parquet)"
    )
    language: Literal["en", "es"] = Field("en", description="CodiEsp text: en (machine-translated) or es (original)")
    code_types: list[Literal["D", "P"]] = Field(default_factory=lambda: list[Literal["D", "P"]](["D"]), description="CodiEsp code files: D, P")
    code_prefixes: list[str] | None = Field(None, description="label codes' prefixes (None: every prefix seen in train)")
    on_error: Literal["raise", "skip"] = "raise"
    max_tokens: int = Field(4000, ge=1, description="first tokens kept per document (MARN: 4000)")
    min_df: int = Field(3, ge=1, description="vocabulary: words in >= min_df training documents (MARN: 3)")
    word2vec: bool = Field(True, description="initialise embeddings with CBOW word2vec trained on the train split")
    embed_dim: int = Field(100, gt=0, description="word2vec size; must equal the model's embed_dim")
    w2v_epochs: int = Field(5, ge=1)
    ccs: bool = Field(False, description="multitask: also predict single-level CCS (model needs num_ccs, e.g. marn)")
    ccs_weight: float = Field(0.3, ge=0, le=1, description="loss = (1 - w) * L_icd + w * L_ccs (MARN: 0.3)")
    min_label_count: int = Field(1, ge=1, description="labels: codes in >= this many training documents")
    num_labels: int | None = Field(None, gt=0, description="labels: the most frequent codes (None: all kept codes)")
    tokenizer: str | None = Field(
        None, description="model plm: its local Hugging Face path; documents become its wordpiece ids (set word2vec false)"
    )
    noise_filter_tau: float | None = Field(
        None, ge=-1, le=1, description="drop TRAIN labels whose description has cosine < tau with the note (SH paper: 0.55); None: off"
    )
    noise_filter_encoder: str | None = Field(None, description="noise filter encoder path (None: packaged all-MiniLM-L6-v2)")


class DataConfig(_Strict):
    path: Path | None = Field(
        None,
        description="MEDS dataset directory (task coding: a CodiEsp release or notes table); "
        "None: preparing the task raises a ValueError asking for --set data.path=DIR",
    )
    task: Literal["next_visit", "coding"] = Field("next_visit", description="coding: notes -> codes (see data.text)")
    text: TextDataConfig | None = Field(None, description="text-coding settings (task: coding only; defaults filled in)")
    num_labels: int = Field(1538, gt=0, description="size of the label space (top codes in train)")
    label_level: Literal["code", "category", "ccs"] = "code"
    visit_window_hours: float | None = Field(None, ge=0, description="None: one visit per timestamp")
    max_visits: int = Field(64, gt=1)
    max_codes_per_visit: int = Field(64, gt=0)
    min_code_count: int = Field(1, ge=1, description="input tokens seen fewer times in train become UNK")

    @model_validator(mode="before")
    @classmethod
    def _text_section(cls, data: Any) -> Any:
        # A coding run always records its full text settings; a next-visit run has none.
        if isinstance(data, dict) and data.get("task") == "coding" and data.get("text") is None:
            return {**data, "text": {}}
        if isinstance(data, dict) and data.get("task", "next_visit") == "next_visit" and data.get("text") is not None:
            raise ValueError("data.text is only used with data.task: coding")
        return data


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
    """Apply ``--set`` overrides to a raw config mapping (returns a new dict)."""
    import copy

    out = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node = out
        for part in path[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {text!r}: {part!r} is not a section")
            node = nxt
        node[path[-1]] = value
    return out


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
