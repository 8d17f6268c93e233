"""benchmarks/dependency_table.py: rows per loss variant, mean ± std over seeds, W recovery from audits."""

import importlib.util
import json
from pathlib import Path

import yaml

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "dependency_table.py"
_spec = importlib.util.spec_from_file_location("dependency_table", _PATH)
dependency_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dependency_table)


def _metrics(loss: str, auprc: float) -> dict:
    op = {"precision_micro": 0.4, "recall_micro": 0.3, "alert_volume": 2.5}
    return {
        "run": {"loss": loss},
        "ranking": {"auprc_micro": auprc},
        "at_k": {"p@5": 0.3},
        "rules": {"global": op},
        "operating_points": {"budget@3": op, "recall@0.3": op},
    }


def _run(root: Path, name: str, seed: int, loss: str, params: dict, auprc: float, w_auroc: float | None = None) -> None:
    d = root / f"name={name}__seed={seed}"
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps(_metrics(loss, auprc)))
    (d / "config.yaml").write_text(yaml.safe_dump({"loss": {"name": loss, "params": params}}))
    if w_auroc is not None:
        (d / "audit").mkdir()
        recovery = {"auroc_abs_w": w_auroc, "auroc_baseline": 0.9}
        (d / "audit" / "audit.json").write_text(json.dumps({"true_structure_recovery": recovery}))


def test_rows_split_by_variant_and_average_seeds(tmp_path: Path) -> None:
    _run(tmp_path, "bce", 0, "bce", {}, 0.30)
    _run(tmp_path, "bce", 1, "bce", {}, 0.20)
    _run(tmp_path, "pl", 0, "dependency_pl", {}, 0.25, w_auroc=0.97)
    _run(tmp_path, "plc", 0, "dependency_pl", {"center": True}, 0.28, w_auroc=0.95)
    _run(tmp_path, "pld", 0, "dependency_pl", {"detach": True, "center": False}, 0.29)
    _run(tmp_path, "plm", 0, "dependency_pl", {"mu": 0.1}, 0.27)
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in dependency_table.table(tmp_path).splitlines()[2:]}
    assert set(rows) == {"bce", "dependency_pl", "dependency_pl (center)", "dependency_pl (detach)", "dependency_pl (mu=0.1)"}
    assert rows["bce"][1] == "0,1" and rows["bce"][2] == "0.250 ± 0.071"
    assert rows["dependency_pl (center)"][-2] == "0.950" and rows["dependency_pl"][-2] == "0.970"
    assert rows["dependency_pl (detach)"][-2] == "" and rows["bce"][-1].strip(" |") == ""


_OBJ_PATH = _PATH.parent / "dependency_objectives.py"
_obj_spec = importlib.util.spec_from_file_location("dependency_objectives", _OBJ_PATH)
dependency_objectives = importlib.util.module_from_spec(_obj_spec)
_obj_spec.loader.exec_module(dependency_objectives)


def test_objectives_commands_carry_the_variant_options(tmp_path: Path) -> None:
    cmd = dependency_objectives.train_command("dependency_pl_detached", 2, tmp_path / "c", tmp_path / "o", "configs/demo.yaml", ["trainer.max_epochs=1"])
    sets = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--set"]
    assert "loss.name=dependency_pl" in sets and "loss.params.detach=true" in sets and "seed=2" in sets
    assert "name=name=dependency_pl_detached__seed=2" in sets and sets[-1] == "trainer.max_epochs=1"
    plain = dependency_objectives.train_command("bce", 0, tmp_path / "c", tmp_path / "o", "configs/demo.yaml", [])
    assert not any(s.startswith("loss.params.") for s in plain)
    # every variant's options are options its loss accepts
    from clincode.losses import build_loss

    for loss, params in dependency_objectives.VARIANTS.values():
        build_loss(loss, 4, **params)
