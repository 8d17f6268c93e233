"""Wall time of `clincode explain` for every document of a split (default: CodiEsp's 250 test documents).

    python benchmarks/explain_speed.py RUN_DIR path/to/codiesp [--split held_out] [--repeats 3]

Runs :func:`clincode.explain.run.explain_run` (load the run, read and encode the notes, score the
split, evidence spans, write one page per document and the index) ``--repeats`` times in this
process into a temporary folder; prints each wall time, the process CPU time, the page count and
the total size of the pages, and the CPU model (``lscpu``).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from rich.console import Console

from clincode.explain.run import explain_run


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return "unknown (no lscpu)"
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return f"{fields.get('Model name', '?').strip()}, {fields.get('CPU(s)', '?').strip()} CPU(s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--split", default="held_out")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}")
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            wall, cpu = time.perf_counter(), time.process_time()
            info = explain_run(args.run_dir, args.data, Path(tmp), split=args.split, console=Console(quiet=True))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            size = sum(p.stat().st_size for p in Path(tmp).rglob("*.html"))
            print(f"repeat {r + 1}: {info['documents']} pages + index in {wall:.2f} s wall, {cpu:.2f} s CPU, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
