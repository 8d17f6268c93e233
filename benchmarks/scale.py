"""Benchmark: wall time and peak memory of preparing a cohort and of one epoch of data loading.

Each step runs in a fresh subprocess of this script; its peak RSS is that process's ``ru_maxrss``
(from ``os.wait4``), so steps never inherit each other's memory. Steps:

- ``prepare``: ``Task.prepare`` (``clincode.tasks``) from an empty cache: the streamed task build
  (two passes over the MEDS shards) writing the task directory (parquet tables + flat arrays).
- ``epoch``: load the prepared task (arrays memory-mapped) and iterate the training loader once
  (length-bucketed sampler + collate, no model), as ``clincode train`` feeds the model.
- ``label-stats``: the training label statistics the losses are fitted on.
- ``prepare-in-memory`` (optional, ``--in-memory``): the in-memory path, the task built in
  memory and then saved, for comparison.

Memory-mapped pages that an epoch touches count in RSS (they are clean page cache the kernel can
drop); the child also reports its resident anonymous and file-backed memory at the end of the step.

    .venv/bin/python benchmarks/scale.py --cohort scale/c200k --work scale/work-200k
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STEPS = ("prepare", "epoch", "label-stats")


def _config(cohort: Path, work: Path, batch_size: int) -> Any:
    from clincode.config import RunConfig

    return RunConfig.model_validate(
        {"data": {"path": str(cohort)}, "out_dir": str(work), "trainer": {"progress": False, "batch_size": batch_size}}
    )


def _memory_status() -> dict[str, float]:
    """Current RssAnon / RssFile of this process in MB (Linux /proc)."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def run_step(step: str, cohort: Path, work: Path, batch_size: int) -> dict[str, Any]:
    """Body of one step (runs in the child process)."""
    import torch

    torch.set_num_threads(1)
    from clincode.tasks import task_for
    from clincode.tasks.next_visit.task import task_kwargs

    cfg = _config(cohort, work, batch_size)
    info: dict[str, Any] = {}
    t = time.perf_counter()
    if step == "prepare":
        shutil.rmtree(Path(work) / ".cache", ignore_errors=True)
        data = task_for(cfg).prepare(cfg)
        info["patients"] = {s: data.stats[f"{s}/patients"] for s in ("train", "tuning", "held_out")}
        info["visits"] = sum(data.stats[f"{s}/visits"] for s in ("train", "tuning", "held_out"))
        info["events"] = data.stats["events"]
        info["shard_units"] = data.stats["shard_units"]
        info["task_dir_mb"] = sum(f.stat().st_size for f in (Path(work) / ".cache").rglob("*") if f.is_file()) / 2**20
    elif step == "prepare-in-memory":
        from clincode.tasks.next_visit.build import build_next_visit

        data = build_next_visit(cohort, **task_kwargs(cfg))
        data.save(Path(work) / "in-memory-task", overwrite=True)
        shutil.rmtree(Path(work) / "in-memory-task")
    elif step == "epoch":
        data = task_for(cfg).prepare(cfg)
        info["load_s"] = time.perf_counter() - t
        loader = task_for(cfg).loader(data, "train", cfg, shuffle=True)
        n_batches = n_patients = n_tokens = 0
        pad = 0
        for batch in loader:
            n_batches += 1
            n_patients += int(batch["codes"].shape[0])
            real = int(batch["token_mask"].sum())
            n_tokens += real
            pad += batch["token_mask"].numel() - real
        info.update(batches=n_batches, patients=n_patients, tokens=n_tokens, padding=pad / max(pad + n_tokens, 1))
    elif step == "label-stats":
        data = task_for(cfg).prepare(cfg)
        stats = task_for(cfg).label_stats(data)
        info["rows"] = stats.n_rows
    else:
        raise ValueError(f"unknown step {step!r}; expected one of {STEPS + ('prepare-in-memory',)}")
    info["step_s"] = time.perf_counter() - t
    info["memory_end"] = _memory_status()
    return info


def measure(step: str, cohort: Path, work: Path, batch_size: int) -> dict[str, Any]:
    """Run one step in a fresh subprocess; wall time and peak RSS of that process."""
    cmd = [sys.executable, __file__, "--cohort", str(cohort), "--work", str(work), "--batch-size", str(batch_size), "--child", step]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"step {step} failed with exit code {proc.returncode}")
    info = json.loads(output.strip().splitlines()[-1])
    info.update(step=step, wall_s=wall, peak_rss_mb=usage.ru_maxrss / 1024, cpu_s=usage.ru_utime + usage.ru_stime)
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohort", type=Path, required=True, help="MEDS cohort directory (e.g. from `clincode synth ehr`)")
    parser.add_argument("--work", type=Path, required=True, help="scratch directory (out_dir of the runs; its .cache is rebuilt)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {STEPS}")
    parser.add_argument("--in-memory", action="store_true", help="also time the in-memory build + save (small cohorts only)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_step(args.child, args.cohort, args.work, args.batch_size)))
        return
    steps = [s for s in args.steps.split(",") if s]
    if args.in_memory:
        steps.append("prepare-in-memory")
    print(f"cohort {args.cohort}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    for step in steps:
        info = measure(step, args.cohort, args.work, args.batch_size)
        print(json.dumps(info), flush=True)
        print(
            f"{step:18s} wall {info['wall_s']:7.1f} s  CPU {info['cpu_s']:7.1f} s  peak RSS {info['peak_rss_mb']:7.0f} MB  "
            f"(end: anon {info['memory_end'].get('RssAnon', 0):.0f} MB, file {info['memory_end'].get('RssFile', 0):.0f} MB)",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
