"""Benchmark: synthetic EHR cohort generation time and peak memory versus cohort size.

Each size runs in its own subprocess so that the peak resident set size (``ru_maxrss`` from
``os.wait4``) is the generator's alone. Wall time is measured around the subprocess (interpreter
start and imports included) and inside it (the ``generate_ehr_cohort`` call only).

Targets: 200k patients in under 2 minutes and under 4 GB; peak memory must not grow
with the number of patients (compare 200k with 400k: same shard size, twice the shards).

Usage::

    .venv/bin/python benchmarks/synth_ehr.py                       # 20k, 200k, 400k patients
    .venv/bin/python benchmarks/synth_ehr.py --sizes 20000 200000 3200000 --codes 2000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, sys, time
from pathlib import Path
start = time.perf_counter()
from clincode.data.synthetic import generate_ehr_cohort
imported = time.perf_counter()
out = generate_ehr_cohort(Path(sys.argv[1]), n_patients=int(sys.argv[2]), n_codes=int(sys.argv[3]),
                          seed=int(sys.argv[4]), shard_size=int(sys.argv[5]), progress=False)
done = time.perf_counter()
info = json.loads((out / "metadata" / "dataset.json").read_text())
print(json.dumps({"generate_s": done - imported, "import_s": imported - start, "counts": info["counts"]}))
"""


def run_one(n_patients: int, n_codes: int, seed: int, shard_size: int, work: Path) -> dict[str, float | int]:
    out = work / f"cohort-{n_patients}"
    log_out, log_err = work / f"{n_patients}.out", work / f"{n_patients}.err"
    start = time.perf_counter()
    with log_out.open("w") as fout, log_err.open("w") as ferr:
        # Output goes to files (not pipes) so the child never blocks while we sit in wait4.
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(out), str(n_patients), str(n_codes), str(seed), str(shard_size)],
            stdout=fout,
            stderr=ferr,
        )
        _, status, usage = os.wait4(proc.pid, 0)  # per-child rusage, unlike RUSAGE_CHILDREN
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"generation of {n_patients} patients failed:\n{log_err.read_text()}")
    stdout = log_out.read_text()
    child = json.loads(stdout.strip().splitlines()[-1])
    size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    shutil.rmtree(out)
    counts = child["counts"]
    return {
        "patients": n_patients,
        "events": counts["events"],
        "visits": counts["visits"],
        "shards": counts["shards"],
        "wall_s": wall,
        "generate_s": child["generate_s"],
        "peak_rss_mb": usage.ru_maxrss / 1024,  # Linux reports KiB
        "disk_mb": size_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000, 400_000])
    parser.add_argument("--codes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard-size", type=int, default=50_000)
    parser.add_argument("--work-dir", type=Path, default=None, help="where cohorts are written (deleted after)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="synth-bench-", dir=args.work_dir))
    try:
        rows = [run_one(n, args.codes, args.seed, args.shard_size, work) for n in args.sizes]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"# synth_ehr benchmark: --codes {args.codes} --seed {args.seed} --shard-size {args.shard_size}")
    print(f"# {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print("| patients | events | visits | shards | wall (s) | generate (s) | peak RSS (MB) | on disk (MB) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['patients']:,} | {r['events']:,} | {r['visits']:,} | {r['shards']} | {r['wall_s']:.1f} "
            f"| {r['generate_s']:.1f} | {r['peak_rss_mb']:.0f} | {r['disk_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
