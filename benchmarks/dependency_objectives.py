r"""Every dependency-aware objective and its baselines on one cohort: train, audit, tabulate.

One ``clincode train`` per (variant, seed) on the given cohort and run config, a ``clincode audit``
of every run whose loss learns W, then the table of ``benchmarks/dependency_table.py``. Runs are
named ``name=VARIANT__seed=S`` under OUT; a run that already has its ``metrics.json`` (or audit) is
not redone, so an interrupted call picks up where it stopped. Training runs one at a time.

    # demo scale, 3 seeds (about 70 s per run, 150 s for those that learn W, on 2 cores)
    clincode synth ehr --patients 6000 --codes 2000 --seed 0 --out dep/cohort
    python benchmarks/dependency_objectives.py --cohort dep/cohort --out dep/runs --seeds 0 1 2
    # one epoch at 200,000 patients, a few variants
    python benchmarks/dependency_objectives.py --cohort b200/cohort --out b200/runs \\
        --variants dependency_pl_detached weighted_bce focal --set trainer.max_epochs=1
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))

from dependency_table import table  # noqa: E402

# variant -> (loss name, loss options); the options beyond the loss's defaults name the variant.
VARIANTS: dict[str, tuple[str, dict[str, object]]] = {
    "bce": ("bce", {}),
    "weighted_bce": ("weighted_bce", {}),
    "focal": ("focal", {}),
    "class_balanced": ("class_balanced", {}),
    "asymmetric": ("asymmetric", {}),
    "dependency_aware": ("dependency_aware", {}),
    "dependency_log": ("dependency_log", {}),
    "dependency_pl": ("dependency_pl", {}),
    "dependency_pl_detached": ("dependency_pl", {"detach": True}),
    "dependency_pl_center": ("dependency_pl", {"center": True}),
    "dependency_pl_mu0.1": ("dependency_pl", {"mu": 0.1}),
}
DEFAULT_VARIANTS = [v for v in VARIANTS if v != "dependency_pl_mu0.1"]
LEARNS_W = ("dependency_aware", "dependency_log", "dependency_pl")


def _value(v: object) -> str:
    return "true" if v is True else "false" if v is False else str(v)


def train_command(variant: str, seed: int, cohort: Path, out: Path, config: str, extra: list[str]) -> list[str]:
    """The ``clincode train`` call of one (variant, seed)."""
    loss, params = VARIANTS[variant]
    sets = [
        f"data.path={cohort}", f"out_dir={out}", f"name=name={variant}__seed={seed}", f"loss.name={loss}",
        f"seed={seed}", "trainer.progress=false", "eval.n_bootstrap=0",
        *(f"loss.params.{k}={_value(v)}" for k, v in params.items()), *extra,
    ]  # fmt: skip
    cmd = [sys.executable, "-m", "clincode.cli", "train", config]
    for s in sets:
        cmd += ["--set", s]
    return cmd


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cohort", type=Path, required=True, help="a `clincode synth ehr` cohort (or any next-visit data path)")
    ap.add_argument("--out", type=Path, required=True, help="directory of the runs (created)")
    ap.add_argument("--config", default="configs/demo.yaml", help="run config every variant starts from")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, choices=list(VARIANTS), metavar="VARIANT",
                    help=f"default: all but mu0.1; choices: {', '.join(VARIANTS)}")  # fmt: skip
    ap.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE", help="extra override for every run")
    ap.add_argument("--no-audit", action="store_true", help="skip `clincode audit` of the runs that learn W")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = ap.parse_args(argv)
    if not args.dry_run and not args.cohort.exists():
        ap.error(f"--cohort {args.cohort} does not exist")
    for seed in args.seeds:
        for variant in args.variants:
            run = args.out / f"name={variant}__seed={seed}"
            cmd = train_command(variant, seed, args.cohort, args.out, args.config, args.extra)
            if args.dry_run:
                print(" ".join(cmd))
                continue
            if not (run / "metrics.json").exists():
                start = time.monotonic()
                log = args.out / "logs" / f"{variant}__seed={seed}.log"
                log.parent.mkdir(parents=True, exist_ok=True)
                with log.open("w") as fh:
                    rc = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT)
                if rc != 0:
                    print(f"error: {variant} seed {seed} failed (exit {rc}); see {log}", file=sys.stderr)
                    return 1
                print(f"{variant} seed {seed}: {time.monotonic() - start:.0f} s", flush=True)
            if not args.no_audit and VARIANTS[variant][0] in LEARNS_W and not (run / "audit" / "audit.json").exists():
                rc = subprocess.call([sys.executable, "-m", "clincode.cli", "audit", str(run), "--top-pairs", "5"], stdout=subprocess.DEVNULL)
                if rc != 0:
                    print(f"error: audit of {run} failed (exit {rc})", file=sys.stderr)
                    return 1
    if not args.dry_run:
        print(table(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
