"""Typed config: YAML, overrides, unknown keys named."""

import pytest

from clincode.config import ConfigError, RunConfig, apply_overrides, config_to_yaml, load_config
from clincode.resources import config_dir


def test_defaults_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\ntrainer:\n  max_epochs: 3\nloss:\n  name: focal\n")
    cfg = load_config(path, ["trainer.batch_size=16", "loss.params.gamma=1.5", "data.label_level=category"])
    assert cfg.name == "x" and cfg.trainer.max_epochs == 3 and cfg.trainer.batch_size == 16
    assert cfg.loss.params == {"gamma": 1.5}
    assert cfg.data.label_level == "category"
    assert cfg.data.num_labels == 1538  # the paper's V by default


@pytest.mark.parametrize(
    "override, key",
    [("trainer.max_epoch=3", "trainer.max_epoch"), ("bogus=1", "bogus"), ("data.nope.x=1", "data.nope")],
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
    with pytest.raises(ConfigError, match="data.num_labels"):
        load_config(None, ["data.num_labels=-3"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)
    with pytest.raises(ConfigError, match="key.path=value"):
        apply_overrides({}, ["novalue"])


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
