"""Dictionary coders on CodiEsp: mention dictionary, candidate ranker, terminology-only mode.

    python benchmarks/codiesp_coder.py --root path/to/codiesp [--code-type D|P]
        [--mode mentions|terminology] [--language es|en] [--ranker] [--out FILE.json]

Reads CodiEsp with ``read_codiesp`` (``mentions=True`` in mentions mode, ``on_error="skip"``:
the release has 11 inconsistent evidence rows, counted in the printed skip report) and scores
with CodiEsp's official MAP (all gold codes of each document with at least one, first 1,000
ranked codes; :func:`clincode.coders.evaluate.codiesp_map`).

Two protocols:

- ``train-only``: fit on train, make every choice on dev (coordinate search over the coder's
  parameters, then the ranker's feature groups), score test once per method;
- ``CLEF``: the choices frozen from train-only, fit on train + dev (as the 2020 shared task
  allowed), score test once.

The label space is the set of codes of the fitting documents; gold codes outside it count as
missed. The frequency-prior row ranks every code by its training document frequency.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from clincode.coders import MentionCoder
from clincode.coders.evaluate import codiesp_map
from clincode.coders.ranker import ALL_GROUPS, CandidateRanker
from clincode.coders.terminology import icd10cm_descriptions
from clincode.data.notes import read_codiesp

DEFAULT_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "codiesp"
SPLITS = {"train": "train", "dev": "tuning", "test": "held_out"}

# Coordinate search on dev: structural choices (refit), then scoring choices (no refit).
STRUCTURAL: list[dict[str, Any]] = [
    {"keys": "exact"},
    *({"keys": k, "bag_window": w} for k in ("bag", "both") for w in (2, 4, 6, 8)),
]
SCORING: list[tuple[str, list[dict[str, Any]]]] = [
    ("smoothing", [{"alpha": a, "beta": b} for a in (0.0, 0.5) for b in (0.25, 0.5, 1.0, 2.0)]),
    ("combine", [{"combine": c} for c in ("noisy_or", "max")]),
    ("negation", [{"negation_window": 0, "negation_factor": 1.0}]
     + [{"negation_window": w, "negation_factor": f} for w in (3, 5) for f in (0.7, 0.4, 0.0)]),
    ("prior_weight", [{"prior_weight": w} for w in (1e-3, 0.05, 0.3)]),
]


def load(root: Path, language: str, code_type: str, mentions: bool) -> tuple[dict[str, tuple], dict[str, Any]]:
    table = read_codiesp(root, language=language, code_types=(code_type,), mentions=mentions, on_error="skip")
    frame = table.frame
    parts = {}
    for name, split in SPLITS.items():
        part = frame.filter(frame["split"] == split)
        ids = part["doc_id"].to_list()
        parts[name] = (part["text"].to_list(), part["codes"].to_list(), table.mentions_by_doc(ids) if mentions else None)
    return parts, table.report


def label_space(*golds: list[list[str]]) -> list[str]:
    return sorted({c for gold in golds for codes in gold for c in codes})


def join(a: tuple, b: tuple) -> tuple:
    return (a[0] + b[0], a[1] + b[1], None if a[2] is None else a[2] + b[2])


def select_coder(train: tuple, dev: tuple, labels: list[str], descriptions: dict | None, language: str) -> tuple[dict, list]:
    """Coordinate search on dev MAP; returns the chosen parameters and the search log."""
    log: list[dict[str, Any]] = []
    best_params: dict[str, Any] = {"language": language}
    best = -1.0
    for structural in STRUCTURAL:
        params = {"language": language, **structural}
        coder = MentionCoder(**params).fit(*train, labels, descriptions=descriptions)
        score = codiesp_map(coder.predict_scores(dev[0]), labels, dev[1])
        log.append({"params": params, "dev_map": score})
        if score > best:
            best, best_params = score, params
    coder = MentionCoder(**best_params).fit(*train, labels, descriptions=descriptions)
    for _, options in SCORING:
        stage_best, stage_choice = -1.0, {}
        for option in options:
            coder.set_params(**{**{k: v for k, v in best_params.items() if k in option}, **option})
            score = codiesp_map(coder.predict_scores(dev[0]), labels, dev[1])
            log.append({"params": {**best_params, **option}, "dev_map": score})
            if score > stage_best + 1e-9:
                stage_best, stage_choice = score, option
        best_params = {**best_params, **stage_choice}
        coder.set_params(**{k: v for k, v in best_params.items() if k not in ("language", "keys", "bag_window", "prefix_len")})
    return best_params, log


def ranker_ablation(train: tuple, dev: tuple, labels: list[str], coder_params: dict, descriptions: dict | None) -> tuple[tuple, dict]:
    """Dev MAP of the ranker with all feature groups and with each group left out (rows computed once).

    Leaving a group out drops its features, not its candidates (the candidate set stays the same).
    """
    ranker = CandidateRanker(coder_params)
    rows = ranker.cross_fit_rows(*train, labels, descriptions)
    ranker.fit_describers(*train, labels, descriptions)
    dev_rows = ranker.candidate_rows(dev[0])
    results: dict[str, float] = {}
    variants = {"all": ALL_GROUPS, **{f"without {g}": tuple(x for x in ALL_GROUPS if x != g) for g in ALL_GROUPS}}
    variants["match only"] = ("match",)
    for name, groups in variants.items():
        r = CandidateRanker(ranker.coder_params, groups=groups)
        r.coder, r.voter = ranker.coder, ranker.voter
        r.fit_rows(*rows)
        results[name] = codiesp_map(r.scores_from_rows(len(dev[0]), *dev_rows), labels, dev[1])
    best = max(results, key=lambda k: (results[k], k == "all"))
    return variants[best], results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--code-type", choices=("D", "P"), default="D")
    parser.add_argument("--mode", choices=("mentions", "terminology"), default="mentions")
    parser.add_argument("--language", choices=("es", "en"), default="es")
    parser.add_argument("--ranker", action="store_true", help="also fit, ablate and score the candidate ranker")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.mode == "mentions" and args.language != "es":
        parser.error("mentions mode needs --language es: CodiEsp's evidence offsets index the Spanish text")
    if args.mode == "terminology" and args.code_type != "D":
        parser.error("terminology mode needs --code-type D: only ICD-10-CM descriptions ship offline")
    t0 = time.time()
    parts, report = load(args.root, args.language, args.code_type, args.mode == "mentions")
    train, dev, test = parts["train"], parts["dev"], parts["test"]
    if args.mode == "terminology":  # no evidence spans: descriptions are the only keys
        train, dev, test = ((t[0], t[1], None) for t in (train, dev, test))
    print(f"CodiEsp-{args.code_type} {args.language} {args.mode}: skipped {report['skipped']}, mentions {report.get('mentions')}")
    out: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items() if k != "root"}, "skipped": report["skipped"]}
    rows: list[tuple[str, str, float | None, float]] = []

    labels = label_space(train[1])
    descriptions = icd10cm_descriptions(labels) if args.mode == "terminology" else None
    # prior row: every document ranks the codes by their training document frequency
    counts = np.array([sum(c in set(g) for g in train[1]) for c in labels], dtype=np.float64)
    prior_dev = codiesp_map(np.tile(counts, (len(dev[0]), 1)), labels, dev[1])
    prior_test = codiesp_map(np.tile(counts, (len(test[0]), 1)), labels, test[1])
    rows.append(("train-only", "frequency prior", prior_dev, prior_test))

    params, search = select_coder(train, dev, labels, descriptions, args.language)
    out["coder_params"], out["coder_search"] = params, search
    coder = MentionCoder(**params).fit(*train, labels, descriptions=descriptions)
    dev_map = codiesp_map(coder.predict_scores(dev[0]), labels, dev[1])
    rows.append(("train-only", "dictionary coder", dev_map, codiesp_map(coder.predict_scores(test[0]), labels, test[1])))
    # what negation does, at the chosen parameters (dev)
    no_neg = MentionCoder(**{**params, "negation_window": 0, "negation_factor": 1.0}).fit(*train, labels, descriptions=descriptions)
    out["dev_map_without_negation"] = codiesp_map(no_neg.predict_scores(dev[0]), labels, dev[1])

    full = join(train, dev)
    labels_clef = label_space(full[1])
    desc_clef = icd10cm_descriptions(labels_clef) if args.mode == "terminology" else None
    counts_clef = np.array([sum(c in set(g) for g in full[1]) for c in labels_clef], dtype=np.float64)
    rows.append(("CLEF", "frequency prior", None, codiesp_map(np.tile(counts_clef, (len(test[0]), 1)), labels_clef, test[1])))
    clef = MentionCoder(**params).fit(*full, labels_clef, descriptions=desc_clef)
    rows.append(("CLEF", "dictionary coder", None, codiesp_map(clef.predict_scores(test[0]), labels_clef, test[1])))

    if args.ranker:
        groups, ablation = ranker_ablation(train, dev, labels, params, descriptions)
        out["ranker_groups"], out["ranker_ablation_dev"] = list(groups), ablation
        ranker = CandidateRanker(params, groups=groups).fit(*train, labels, descriptions=descriptions)
        rows.append(("train-only", "dictionary + ranker", max(ablation.values()),
                     codiesp_map(ranker.predict_scores(test[0]), labels, test[1])))
        ranker_clef = CandidateRanker(params, groups=groups).fit(*full, labels_clef, descriptions=desc_clef)
        rows.append(("CLEF", "dictionary + ranker", None, codiesp_map(ranker_clef.predict_scores(test[0]), labels_clef, test[1])))

    out["rows"] = [{"protocol": p, "method": m, "dev_map": d, "test_map": t} for p, m, d, t in rows]
    out["seconds"] = round(time.time() - t0, 1)
    print(f"chosen coder parameters (dev): {params}")
    if "dev_map_without_negation" in out:
        print(f"dev MAP without negation at these parameters: {out['dev_map_without_negation']:.4f}")
    if args.ranker:
        print("ranker feature-group ablation (dev MAP): " + ", ".join(f"{k} {v:.4f}" for k, v in out["ranker_ablation_dev"].items()))
    print("| protocol | method | dev MAP | test MAP |\n|---|---|---|---|")
    for p, m, d, t in rows:
        print(f"| {p} | {m} | {'' if d is None else f'{d:.4f}'} | {t:.4f} |")
    print(f"({out['seconds']} s)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
