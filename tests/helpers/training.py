"""Config overrides for the tiny next-visit training run shared by the training, CLI and benchmark tests."""

from pathlib import Path


def tiny_overrides(cohort: Path, out_dir: Path, **extra: object) -> list[str]:
    base = {
        "data.path": str(cohort),
        "data.params.num_labels": 60,
        "out_dir": str(out_dir),
        "name": "tiny",
        "model.params": "{d_model: 16, n_heads: 2, n_layers: 1, dim_feedforward: 32}",
        "trainer.max_epochs": 2,
        "trainer.batch_size": 32,
        "trainer.progress": False,
        "eval.n_bootstrap": 10,
        "loss.name": "dependency_aware",
    }
    base.update({k: v for k, v in extra.items()})
    return [f"{k}={v}" for k, v in base.items()]
