"""Typed config: YAML, overrides, unknown keys named."""

import pytest

from clincode.config import ConfigError, RunConfig, apply_overrides, config_to_yaml, load_config
from clincode.resources import config_dir


def test_defaults_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\ntrainer:\n  max_epochs: 3\nloss:\n  name: focal\n")
    cfg = load_config(path, ["trainer.batch_size=16", "loss.params.gamma=1.5", "data.params.label_level=category"])
    assert cfg.name == "x" and cfg.trainer.max_epochs == 3 and cfg.trainer.batch_size == 16
    assert cfg.loss.params == {"gamma": 1.5}
    assert cfg.data.params == {"label_level": "category"}  # the task's schema fills the rest (tests/tasks/test_task_params.py)


@pytest.mark.parametrize(
    "override, key",
    [("trainer.max_epoch=3", "trainer.max_epoch"), ("bogus=1", "bogus"), ("model.nope.x=1", "model.nope")],
)
def test_unknown_key_is_named(override, key):
    with pytest.raises(ConfigError, match=f"unknown key '{key}'"):
        load_config(None, [override])


def test_unknown_key_in_file_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  nme: x\n")
    with pytest.raises(ConfigError, match=r"c\.yaml.*unknown key 'model\.nme'"):
        load_config(path)


def test_bad_values_and_files(tmp_path):
    with pytest.raises(ConfigError, match="data.params"):
        load_config(None, ["data.params=5"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)
    with pytest.raises(ConfigError, match="key.path=value"):
        apply_overrides({}, ["novalue"])


def test_old_style_data_overrides_go_where_the_config_holds_them():
    # A config of the current layout: under data.params; a config of the layout before params: in place.
    assert apply_overrides({"data": {"params": {"num_labels": 9}}}, ["data.num_labels=100"]) == {"data": {"params": {"num_labels": 100}}}
    assert apply_overrides({}, ["data.text.noise_filter_tau=0.5"]) == {"data": {"params": {"noise_filter_tau": 0.5}}}
    assert apply_overrides({"data": {"num_labels": 9}}, ["data.num_labels=100"]) == {"data": {"num_labels": 100}}
    assert apply_overrides({"data": {"text": {"min_df": 3}}}, ["data.text.min_df=2"]) == {"data": {"text": {"min_df": 2}}}
    assert apply_overrides({}, ["data.path=x", "data.task=coding"]) == {"data": {"path": "x", "task": "coding"}}


def test_old_layout_keys_are_kept_aside_for_the_task():
    cfg = RunConfig.model_validate({"data": {"task": "coding", "num_labels": 1538, "text": {"min_df": 2}}})
    assert cfg.data.params == {} and cfg.data.old_layout == {"num_labels": 1538, "text": {"min_df": 2}}
    assert "num_labels" not in cfg.model_dump()["data"]


def test_config_names_no_task():
    import ast
    from pathlib import Path

    import clincode.config as config

    source = Path(config.__file__).read_text(encoding="utf-8")
    strings = {n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not {"next_visit", "coding"} & strings


def test_yaml_round_trip():
    cfg = load_config(None, ["loss.name=dependency_aware", "seed=3"])
    import yaml

    again = RunConfig.model_validate(yaml.safe_load(config_to_yaml(cfg)))
    assert again == cfg


def test_packaged_configs_validate():
    paths = sorted(config_dir().glob("*.yaml"))
    runs = [p for p in paths if not p.name.startswith("benchmark_")]
    benches = [p for p in paths if p.name.startswith("benchmark_")]
    assert runs and benches
    for path in runs:
        load_config(path)
    from clincode.bench.grid import expand, load_benchmark

    for path in benches:
        cells = expand(load_benchmark(path, ["data.path=/some/where"]))
        assert cells and all(c.config.data.path is not None for c in cells)
