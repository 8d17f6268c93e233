"""Score a CodiEsp-X prediction file against a gold ``{split}X.tsv`` (pooled and per code type).

    python benchmarks/codiesp_x_score.py GOLD.tsv PRED.tsv [--valid-codes D.tsv P.tsv ...] [--json]

The rule is :mod:`clincode.metrics.codiesp_x` (the official one: a gold (document, code) pair is
hit when a predicted reference of that code contains one of its gold references, overshooting by
at most 10 characters on each side; micro P/R/F1 over distinct pairs). ``--valid-codes``: code lists
(first tab-separated column) a predicted code must be in; without them every code counts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from clincode.metrics.codiesp_x import codiesp_x_by_type, read_valid_codes, read_x_gold, read_x_predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gold", type=Path)
    parser.add_argument("pred", type=Path)
    parser.add_argument("--valid-codes", type=Path, nargs="+", default=None)
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    args = parser.parse_args()
    valid = None if args.valid_codes is None else set().union(*(read_valid_codes(p) for p in args.valid_codes))
    scores = codiesp_x_by_type(read_x_gold(args.gold), read_x_predictions(args.pred), valid)
    if args.json:
        print(json.dumps({k: v.to_dict() for k, v in scores.items()}, indent=2))
        return
    print("| scope | P | R | F1 | hits | predicted pairs | gold pairs |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, s in scores.items():
        print(f"| {name} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {s.hits} | {s.predicted} | {s.gold} |")


if __name__ == "__main__":
    main()
