"""Two-process DDP training on CPU (gloo) matches a one-process run with the same global batch.

Why they can agree: the sampler gives the two ranks (per-rank batch 4) exactly the patients of each
batch of the one-process run (batch 8); DDP averages the two ranks' gradients; the loss is the mean
over valid target entries. Every patient here has exactly 4 visits, so 3 rows x V valid entries,
and every global batch is full (64 training patients = 8 x 8), so both ranks average over the same
number of entries: the mean of the two rank means IS the global mean, and the gradients, the
clipping and the AdamW steps are the same up to float32 summation order (dropout is 0).

Tolerance: measured differences are <= 3e-7 on most tensors and ~6e-6 on a few, after 8 AdamW
steps of lr 2e-3 (a different batch order or a wrong loss average moves weights by ~1e-3), so
5e-5 absolute. One slice is exempt from that bound: the attention *key* bias. Adding a vector b to
every key shifts all attention logits of a query by the same q.b, which softmax ignores, so its
true gradient is exactly 0 and what is computed is rounding noise; Adam divides by sqrt(v) of that
noise and turns it into steps of up to lr. It is only checked to stay within lr x steps.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from clincode.resources import config_path
from clincode.train.runs import Artefact

N_TRAIN, N_EVAL, VISITS = 64, 16, 4


def write_equal_visit_cohort(root: Path, seed: int = 0) -> Path:
    """MEDS cohort where every patient has exactly VISITS visits of 2-4 diagnosis codes."""
    rng = np.random.default_rng(seed)
    codes = [f"ICD10CM//{chr(65 + i % 6)}{10 + i}.{i % 4}" for i in range(30)]
    p = 1.0 / np.arange(1, 31)
    p /= p.sum()
    rows: list[tuple[int, dt.datetime | None, str]] = []
    splits = {}
    n = N_TRAIN + 2 * N_EVAL
    for k in range(n):
        sid = 100 + k
        splits[sid] = "train" if k < N_TRAIN else ("tuning" if k < N_TRAIN + N_EVAL else "held_out")
        birth = dt.datetime(1940, 1, 1) + dt.timedelta(days=int(rng.integers(0, 15000)))
        rows += [(sid, None, "GENDER//F" if k % 2 else "GENDER//M"), (sid, birth, "MEDS_BIRTH")]
        t = birth + dt.timedelta(days=int(rng.integers(7000, 20000)))
        for _ in range(VISITS):
            t = t + dt.timedelta(days=int(rng.integers(1, 400)))
            for c in rng.choice(30, size=int(rng.integers(2, 5)), replace=False, p=p):
                rows.append((sid, t, codes[c]))
    (root / "data").mkdir(parents=True)
    (root / "metadata").mkdir()
    pl.DataFrame(
        {"subject_id": [r[0] for r in rows], "time": [r[1] for r in rows], "code": [r[2] for r in rows]},
        schema={"subject_id": pl.Int64, "time": pl.Datetime("us"), "code": pl.String},
    ).with_columns(pl.lit(None, dtype=pl.Float32).alias("numeric_value")).write_parquet(root / "data" / "0.parquet")
    pl.DataFrame({"subject_id": list(splits), "split": list(splits.values())}).write_parquet(
        root / "metadata" / "subject_splits.parquet"
    )
    return root


def _train(cohort: Path, out_dir: Path, name: str, extra: dict[str, object]) -> Path:
    sets = {
        "data.path": cohort,
        "data.num_labels": 20,
        "out_dir": out_dir,
        "name": name,
        "model.params": "{d_model: 16, n_heads: 2, n_layers: 1, dim_feedforward: 32, dropout: 0.0}",
        "loss.name": "bce",
        "trainer.max_epochs": 1,
        "trainer.progress": "false",
        "trainer.deterministic": "true",
        "trainer.accelerator": "cpu",
        "eval.n_bootstrap": 0,
        **extra,
    }
    cmd = [str(Path(sys.executable).parent / "clincode"), "train", str(config_path("demo"))]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out_dir / name


def _numbers(obj: object, prefix: str = "") -> dict[str, float]:
    """Flatten the numeric leaves of metrics.json."""
    out: dict[str, float] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_numbers(v, f"{prefix}{k}."))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(_numbers(v, f"{prefix}{i}."))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix.rstrip(".")] = float(obj)
    return out


@pytest.mark.slow  # two training subprocesses, one a two-process gloo DDP run
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    cohort = write_equal_visit_cohort(tmp_path / "meds")
    ddp = _train(
        cohort,
        tmp_path / "runs",
        "ddp",
        {"trainer.batch_size": 4, "trainer.devices": 2, "trainer.strategy": "ddp"},
    )
    single = _train(cohort, tmp_path / "runs", "single", {"trainer.batch_size": 8})
    a, b = Artefact.load(single / "model.ckpt"), Artefact.load(ddp / "model.ckpt")
    assert a.model_state.keys() == b.model_state.keys()
    lr, steps = 2e-3, N_TRAIN // 8
    for key, wa in a.model_state.items():
        diff = (wa - b.model_state[key]).abs()
        if key.endswith("self_attn.in_proj_bias"):  # rows [q | k | v]: the k third has zero gradient
            d = wa.shape[0] // 3
            assert diff[d : 2 * d].max() <= lr * steps, key
            diff = torch.cat([diff[:d], diff[2 * d :]])
        assert diff.max() <= 5e-5, (key, diff.max().item())
    # Both runs took the same 8 optimiser steps (the DDP run as 2 ranks x batch 4).
    for run in (single, ddp):
        log = pl.read_csv(run / "logs" / "metrics.csv")
        assert log["step"].max() == steps - 1, run.name
    ma = _numbers(json.loads((single / "metrics.json").read_text()))
    mb = _numbers(json.loads((ddp / "metrics.json").read_text()))
    assert ma.keys() == mb.keys() and len(ma) > 20
    for key in ma:
        if not key.startswith("run."):
            assert mb[key] == pytest.approx(ma[key], rel=1e-4, abs=1e-5), key
