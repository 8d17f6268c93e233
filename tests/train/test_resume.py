"""A training run killed with SIGKILL (or stopped by SIGTERM) and restarted with the same command resumes
from its last checkpoint, ends with metrics identical to an uninterrupted run (default dropout: the random
states are in the checkpoint) and keeps its CSV log (each epoch once).
"""

import json
import os
import signal
import subprocess
import sys
import time

import polars as pl
import pytest

from clincode.metrics import flatten_metrics
from clincode.resources import config_path
from helpers.training import tiny_overrides


def train_cmd(cohort, out_dir, name):
    sets = tiny_overrides(
        cohort,
        out_dir,
        **{"name": name, "trainer.max_epochs": 4, "trainer.patience": 10, "model.params": "{d_model: 16, n_heads: 2, n_layers: 1, dim_feedforward: 32}"},
    )
    cmd = [sys.executable, "-c", "from clincode.cli import app; app()", "train", str(config_path("demo"))]
    for s in sets:
        cmd += ["--set", s]
    return cmd


@pytest.mark.slow  # training runs in subprocesses
def test_sigkill_then_resume_matches_uninterrupted(tiny_cohort, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", CLINCODE_DEBUG="1")
    ref = subprocess.run(train_cmd(tiny_cohort, tmp_path, "ref"), env=env, capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr[-2000:]

    cmd = train_cmd(tiny_cohort, tmp_path, "killed")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while not last.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert last.exists() and proc.poll() is None, "training ended before its first checkpoint could be interrupted"
    time.sleep(0.3)  # let the checkpoint write finish, then kill mid-training
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (tmp_path / "killed" / "metrics.json").exists()
    log_path = tmp_path / "killed" / "logs" / "metrics.csv"
    assert pl.read_csv(log_path)["epoch"].min() == 0

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming from" in again.stderr
    a = json.loads((tmp_path / "ref" / "metrics.json").read_text())
    b = json.loads((tmp_path / "killed" / "metrics.json").read_text())
    a.pop("run"), b.pop("run")
    assert flatten_metrics(b) == flatten_metrics(a)  # identical, not close: same dropout masks after resuming
    assert b["ci"] == a["ci"]
    # The resumed run continued the CSV log: every epoch validated once, training steps not repeated.
    log = pl.read_csv(log_path)
    assert sorted(log.filter(pl.col("val/auprc_micro").is_not_null())["epoch"].to_list()) == [0, 1, 2, 3]
    steps = log.filter(pl.col("train/loss_step").is_not_null())["step"].to_list()
    assert steps == sorted(steps) and len(steps) == len(set(steps))


@pytest.mark.slow  # training runs in subprocesses
def test_sigterm_stops_with_an_error_and_the_run_resumes(tiny_cohort, tmp_path):
    """SIGTERM (pre-emption) ends training with a non-zero exit and one error line; the same command resumes."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = train_cmd(tiny_cohort, tmp_path, "preempted")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last = tmp_path / "preempted" / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while not last.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert last.exists() and proc.poll() is None, "training ended before it could be interrupted"
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    assert not (tmp_path / "preempted" / "metrics.json").exists()
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming from" in again.stderr and (tmp_path / "preempted" / "metrics.json").is_file()
