"""Every registered task owns its settings: ``data.params`` checked by the task's own schema.

Contract over every task of ``TASKS`` (as for every model and loss): a schema kept in the task's
folder, defaults that validate, unknown keys rejected with the key named, a description. Then the
layout before ``params`` (settings directly under ``data``, the ``data.text`` section, the full
config.yaml of older run directories) loads and means the same thing.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml

from clincode.config import ConfigError, RunConfig, config_to_yaml, load_config
from clincode.registry import ParamsError
from clincode.resources import config_dir
from clincode.tasks import TASKS, TaskParams, data_params, describe_tasks, resolve_data, task_for, task_params
from clincode.tasks.coding.params import CodingParams
from clincode.tasks.next_visit.params import NextVisitParams

NAMES = TASKS.names()

# What configs saved before data.params held (RunConfig.model_dump of the layout then).
OLD_NEXT_VISIT_DEFAULTS = {
    "num_labels": 1538, "label_level": "code", "visit_window_hours": None, "max_visits": 64, "max_codes_per_visit": 64,
    "min_code_count": 1,
}  # fmt: skip
OLD_TEXT_DEFAULTS = {
    "format": "auto", "language": "en", "code_types": ["D"], "code_prefixes": None, "on_error": "raise", "max_tokens": 4000,
    "min_df": 3, "word2vec": True, "embed_dim": 100, "w2v_epochs": 5, "ccs": False, "ccs_weight": 0.3, "min_label_count": 1,
    "num_labels": None, "tokenizer": None, "noise_filter_tau": None, "noise_filter_encoder": None,
}  # fmt: skip


def cfg_of(data: dict[str, Any], overrides: list[str] | None = None) -> RunConfig:
    from clincode.config import apply_overrides

    return RunConfig.model_validate(apply_overrides({"data": data}, overrides or []))


# --------------------------------------------------------------------------- contract, every task
def test_the_known_tasks_are_registered() -> None:
    assert {"next_visit", "coding"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_each_task_has_a_schema_in_its_own_folder(name: str) -> None:
    cls = TASKS.get(name)
    schema = cls.params
    assert inspect.isclass(schema) and issubclass(schema, TaskParams) and schema is not TaskParams
    assert schema.__module__ == f"{cls.__module__.rsplit('.', 1)[0]}.params"  # tasks/<name>/params.py
    assert importlib.import_module(schema.__module__).__dict__[schema.__name__] is schema


@pytest.mark.parametrize("name", NAMES)
def test_defaults_validate_and_round_trip_through_a_saved_config(name: str) -> None:
    params = data_params(cfg_of({"task": name}))
    assert type(params) is TASKS.get(name).params
    assert params.model_dump() == TASKS.params(name)  # the described defaults are the validated ones
    cfg = resolve_data(cfg_of({"task": name}))
    again = RunConfig.model_validate(yaml.safe_load(config_to_yaml(cfg)))
    assert again == cfg and resolve_data(again) == cfg and task_params(again, type(params)) == params


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_param_is_rejected_with_the_key_named(name: str) -> None:
    with pytest.raises(ConfigError, match=rf"task {name!r} got unknown parameter\(s\) 'no_such_key'"):
        data_params(cfg_of({"task": name, "params": {"no_such_key": 1}}))
    with pytest.raises(ParamsError, match="'no_such_key'"):
        TASKS.check_params(name, {"no_such_key": 1})
    with pytest.raises(ConfigError, match="'no_such_key'"):
        task_for(cfg_of({"task": name, "params": {"no_such_key": 1}}))


@pytest.mark.parametrize("name", NAMES)
def test_an_invalid_value_is_rejected_with_the_key_named(name: str) -> None:
    key = next(iter(TASKS.params(name)))
    with pytest.raises(ConfigError, match=rf"data\.params\.{key}"):
        data_params(cfg_of({"task": name, "params": {key: {"not": "a setting"}}}))


@pytest.mark.parametrize("name", NAMES)
def test_describe_lists_the_schema_fields(name: str) -> None:
    entry = {d["name"]: d for d in describe_tasks()}[name]
    assert entry["summary"] and list(entry["params"]) == list(TASKS.get(name).params.model_fields)


def test_the_default_task_and_an_unknown_task() -> None:
    assert resolve_data(RunConfig()).data.task == "next_visit"
    with pytest.raises(ConfigError, match="unknown task 'next_vist'.*Did you mean 'next_visit'"):
        resolve_data(cfg_of({"task": "next_vist"}))


def test_params_of_another_task_are_refused() -> None:
    with pytest.raises(ValueError, match="data.task is 'next_visit'"):
        task_params(RunConfig(), CodingParams)


@pytest.mark.parametrize("path", sorted(p.name for p in config_dir().glob("*.yaml") if not p.name.startswith("benchmark_")))
def test_packaged_configs_are_of_the_current_layout(path: str) -> None:
    raw = yaml.safe_load((config_dir() / path).read_text())
    assert set(raw["data"]) <= {"task", "path", "params"}, path
    cfg = load_config(config_dir() / path)
    assert cfg.data.old_layout == {} and cfg.data.task in NAMES
    resolve_data(cfg)


# --------------------------------------------------------------------------- the layout before params
def test_old_next_visit_keys_under_data_mean_the_same() -> None:
    old = cfg_of({"num_labels": 100, "label_level": "category", "visit_window_hours": 24.0, "max_visits": 8})
    params = task_params(old, NextVisitParams)
    assert params == NextVisitParams(num_labels=100, label_level="category", visit_window_hours=24.0, max_visits=8)
    assert resolve_data(old).data.params == params.model_dump()


def test_old_coding_text_section_means_the_same() -> None:
    old = cfg_of({"task": "coding", "path": "notes", "text": {"min_df": 2, "ccs": True, "code_types": ["D", "P"]}})
    assert task_params(old, CodingParams) == CodingParams(min_df=2, ccs=True, code_types=["D", "P"])
    assert resolve_data(old).data.path == Path("notes")


def test_an_old_run_config_yaml_loads_with_its_settings() -> None:
    # An older coding run saved every field, the next-visit ones too (meaningless for it).
    saved_coding = {**OLD_NEXT_VISIT_DEFAULTS, "path": "codiesp", "task": "coding", "text": {**OLD_TEXT_DEFAULTS, "min_df": 2}}
    cfg = resolve_data(RunConfig.model_validate({"name": "r", "data": saved_coding}))
    assert cfg.data.task == "coding" and cfg.data.params == {**OLD_TEXT_DEFAULTS, "min_df": 2}
    saved_next_visit = {**OLD_NEXT_VISIT_DEFAULTS, "num_labels": 60, "path": "cohort", "task": "next_visit", "text": None}
    cfg = resolve_data(RunConfig.model_validate({"name": "r", "data": saved_next_visit}))
    assert cfg.data.params == {**OLD_NEXT_VISIT_DEFAULTS, "num_labels": 60}


def test_an_old_run_directory_loads(tmp_path: Path) -> None:
    from clincode.train.runs import Artefact, load_run

    saved = {"name": "r", "data": {**OLD_NEXT_VISIT_DEFAULTS, "num_labels": 40, "path": "cohort", "task": "next_visit", "text": None}}
    Artefact(
        config=saved, model_name="prevalence", model_params={}, vocab_size=1, num_labels=1, model_state={}, loss_name="bce",
        loss_params={}, loss_state={}, label_space={}, vocab={}, thresholds=None,
    ).save(tmp_path / "model.ckpt")  # fmt: skip
    _, cfg = load_run(tmp_path)
    assert cfg.data.params["num_labels"] == 40 and cfg.data.old_layout == {}


def test_old_style_overrides_keep_working(tmp_path: Path) -> None:
    nv = load_config(config_dir() / "next_visit.yaml", ["data.num_labels=100", "data.label_level=ccs"])
    assert task_params(nv, NextVisitParams).num_labels == 100 and nv.data.params["label_level"] == "ccs"
    sh = load_config(config_dir() / "codiesp_sh.yaml", ["data.text.noise_filter_tau=0.5"])
    assert task_params(sh, CodingParams).noise_filter_tau == 0.5
    old_file = tmp_path / "old.yaml"
    old_file.write_text("data:\n  task: coding\n  text:\n    min_df: 3\n  num_labels: 1538\n")
    old = load_config(old_file, ["data.text.min_df=2", "data.num_labels=7"])  # set where the file holds them
    assert task_params(old, CodingParams) == CodingParams(min_df=2)  # num_labels under data: never read by coding


@pytest.mark.parametrize(
    "data, overrides, named",
    [
        ({"num_labels": 100, "params": {"num_labels": 50}}, [], r"data\.num_labels is 100 but data\.params\.num_labels is 50"),
        ({"task": "coding", "text": {"min_df": 2}, "params": {"min_df": 5}}, [], r"data\.text\.min_df is 2 but data\.params\.min_df is 5"),
        ({"num_labels": 100}, ["data.params.num_labels=50"], r"data\.num_labels is 100"),
    ],
)
def test_an_old_key_and_params_that_disagree_are_one_error(data: dict[str, Any], overrides: list[str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        resolve_data(cfg_of(data, overrides))


def test_the_same_value_twice_is_accepted() -> None:
    cfg = cfg_of({"num_labels": 100, "params": {"num_labels": 100}})
    assert task_params(cfg, NextVisitParams).num_labels == 100


@pytest.mark.parametrize(
    "data, named",
    [
        ({"nmu_labels": 3}, "'data.nmu_labels'"),
        ({"task": "next_visit", "text": {"min_df": 2}}, "'data.text.min_df'"),
        ({"task": "coding", "text": {"min_dff": 2}}, "'data.text.min_dff'"),
        ({"num_labels": 0}, r"data\.params\.num_labels"),
        ({"task": "coding", "text": {"language": "fr"}}, r"data\.params\.language"),
    ],
)
def test_old_layout_errors_name_the_key(data: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        resolve_data(cfg_of(data))


def test_a_saved_run_of_the_old_layout_is_not_a_different_config(tmp_path: Path) -> None:
    from clincode.train.fit import _check_run_dir

    saved = {"name": "r", "out_dir": str(tmp_path), "data": {**OLD_NEXT_VISIT_DEFAULTS, "path": "cohort", "task": "next_visit", "text": None}}
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(yaml.safe_dump(saved))
    current = resolve_data(RunConfig.model_validate({"name": "r", "out_dir": str(tmp_path), "data": {"path": "cohort"}}))
    _check_run_dir(run_dir, current, overwrite=False)  # same settings: resumable
    other = resolve_data(RunConfig.model_validate({"name": "r", "out_dir": str(tmp_path), "data": {"path": "cohort", "params": {"max_visits": 8}}}))
    with pytest.raises(Exception, match="data.params.max_visits"):
        _check_run_dir(run_dir, other, overwrite=False)


def test_the_visit_window_is_in_hours_from_config_to_saved_task() -> None:
    from datetime import timedelta

    from clincode.tasks.next_visit.data import NextVisitConfig

    assert NextVisitParams(visit_window_hours=1.5).build_kwargs()["visit_window"] == timedelta(hours=1.5)
    state = NextVisitConfig(visit_window_hours=24.0).to_dict()
    assert state["visit_window_hours"] == 24.0 and "visit_window_seconds" not in state
    saved_before = {k: v for k, v in state.items() if k != "visit_window_hours"}  # task.json of older builds
    assert NextVisitConfig.from_dict({**saved_before, "visit_window_seconds": 86400.0}).visit_window_hours == 24.0
    assert NextVisitConfig.from_dict({**saved_before, "visit_window_seconds": None}).visit_window_hours is None
