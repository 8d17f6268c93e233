"""Summarise the run directories under a folder (for ``clincode list runs``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from clincode.io import read_json


def list_runs(root: Path) -> list[dict[str, Any]]:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"runs directory {root} does not exist")
    rows = []
    for cfg_path in sorted(root.glob("*/config.yaml")):
        run = cfg_path.parent
        cfg = yaml.safe_load(cfg_path.read_text()) or {}
        row: dict[str, Any] = {"run": run.name, "loss": cfg.get("loss", {}).get("name", "?")}
        metrics_path = run / "metrics.json"
        if metrics_path.is_file():
            m = read_json(metrics_path)
            row["status"] = "done"
            row["auprc_micro"] = f"{m['ranking']['auprc_micro']:.4f}"
            row["f1_micro@tuned"] = f"{m['rules']['global']['f1_micro']:.4f}"
        elif (run / "checkpoints" / "last.ckpt").exists():
            row["status"] = "interrupted (resumable)"
        else:
            row["status"] = "started"
        rows.append(row)
    return rows
