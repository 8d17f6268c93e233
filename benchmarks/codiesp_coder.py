"""Dictionary coders on CodiEsp: mention dictionary, candidate ranker, terminology-only mode.

    python benchmarks/codiesp_coder.py --root path/to/codiesp [--code-type D|P]
        [--mode mentions|terminology] [--language es|en] [--ranker] [--unseen] [--out FILE.json]

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

``--unseen`` (mentions mode) adds the options aimed at codes outside the fitting codes and the
matching around them, each kept only if it raises dev MAP, one after the other from the chosen
dictionary coder: ICD-10-CM descriptions as extra keys (English phrases on the Spanish text),
fuzzy token reading, then an extended label space (ICD-10-CM parents, siblings and children of the
training codes) with hierarchy back-off; for the ranker, hierarchy candidates. Every row also
reports ``unseen@10``: the share of gold codes outside the fitting documents' codes that are
ranked in a document's first 10.
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
from clincode.coders.ranker import CandidateRanker
from clincode.coders.terminology import icd10cm_descriptions
from clincode.data.notes import read_codiesp

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
# --unseen: options tried one after the other on dev (each kept if it raises dev MAP)
UNSEEN_DICTIONARY: list[tuple[str, list[dict[str, Any]]]] = [
    ("descriptions", [{"descriptions": True}]),
    ("fuzzy", [{"fuzzy": 1, "fuzzy_min_len": m} for m in (6, 8)]),
    ("hierarchy back-off", [{"extend_labels": True, "backoff": b} for b in (0.05, 0.1, 0.2)]),
]
UNSEEN_RANKER: list[dict[str, Any]] = [{"hierarchy_top": k, "extend_labels": True} for k in (10, 30, 100)]


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


def unseen_at(scores: np.ndarray, codes: list[str], gold: list[list[str]], fit_codes: list[str], k: int = 10) -> float:
    """Share of gold codes outside ``fit_codes`` (over all documents) ranked in a document's first ``k``."""
    seen, index = set(fit_codes), {c: i for i, c in enumerate(codes)}
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    hits = total = 0
    for d, codes_d in enumerate(gold):
        first = set(top[d].tolist())
        for c in set(codes_d) - seen:
            total += 1
            hits += index.get(c, -1) in first
    return hits / max(total, 1)


def split_options(options: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(MentionCoder parameters, whether descriptions are extra keys) from an option set."""
    return {k: v for k, v in options.items() if k != "descriptions"}, bool(options.get("descriptions"))


def select_unseen(train: tuple, dev: tuple, labels: list[str], params: dict) -> tuple[dict, list]:
    """The --unseen dictionary options kept on dev (each in turn, kept if dev MAP rises) and the log."""
    log: list[dict[str, Any]] = []
    chosen: dict[str, Any] = {}

    def dev_map(options: dict[str, Any]) -> float:
        extra, desc = split_options(options)
        coder = MentionCoder(**{**params, **extra}).fit(*train, labels, descriptions=icd10cm_descriptions(labels) if desc else None)
        scores = coder.predict_scores(dev[0])
        score = codiesp_map(scores, coder.label_codes, dev[1])
        log.append({"options": options, "dev_map": score, "unseen@10": unseen_at(scores, coder.label_codes, dev[1], labels)})
        return score

    best = dev_map({})
    for _, options in UNSEEN_DICTIONARY:
        stage = [(dev_map({**chosen, **o}), o) for o in options]
        score, option = max(stage, key=lambda t: t[0])
        if score > best + 1e-9:
            best, chosen = score, {**chosen, **option}
    return chosen, log


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


def ranker_ablation(
    train: tuple, dev: tuple, labels: list[str], coder_params: dict, descriptions: dict | None, ranker_params: dict | None = None
) -> tuple[tuple, dict]:
    """Dev MAP of the ranker with all feature groups and with each group left out (rows computed once).

    Leaving a group out drops its features, not its candidates (the candidate set stays the same).
    """
    ranker = CandidateRanker(coder_params, **(ranker_params or {}))
    rows = ranker.cross_fit_rows(*train, labels, descriptions)
    ranker.fit_describers(*train, labels, descriptions)
    dev_rows = ranker.candidate_rows(dev[0])
    results: dict[str, float] = {}
    groups_all = ranker.groups
    variants = {"all": groups_all, **{f"without {g}": tuple(x for x in groups_all if x != g) for g in groups_all}}
    variants["match only"] = ("match",)
    for name, groups in variants.items():
        r = CandidateRanker(ranker.coder_params, groups=groups, **(ranker_params or {}))
        r.coder, r.voter = ranker.coder, ranker.voter
        r.fit_rows(*rows)
        results[name] = codiesp_map(r.scores_from_rows(len(dev[0]), *dev_rows), ranker.coder.label_codes, dev[1])
    best = max(results, key=lambda k: (results[k], k == "all"))
    return variants[best], results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="CodiEsp release directory (train/, dev/, test/)")
    parser.add_argument("--code-type", choices=("D", "P"), default="D")
    parser.add_argument("--mode", choices=("mentions", "terminology"), default="mentions")
    parser.add_argument("--language", choices=("es", "en"), default="es")
    parser.add_argument("--ranker", action="store_true", help="also fit, ablate and score the candidate ranker")
    parser.add_argument("--unseen", action="store_true", help="also choose and score the options for codes outside the fitting codes")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.mode == "mentions" and args.language != "es":
        parser.error("mentions mode needs --language es: CodiEsp's evidence offsets index the Spanish text")
    if args.unseen and args.mode != "mentions":
        parser.error("--unseen applies to mentions mode")
    if args.mode == "terminology" and args.code_type != "D":
        parser.error("terminology mode needs --code-type D: only ICD-10-CM descriptions ship offline")
    t0 = time.time()
    parts, report = load(args.root, args.language, args.code_type, args.mode == "mentions")
    train, dev, test = parts["train"], parts["dev"], parts["test"]
    if args.mode == "terminology":  # no evidence spans: descriptions are the only keys
        train, dev, test = ((t[0], t[1], None) for t in (train, dev, test))
    print(f"CodiEsp-{args.code_type} {args.language} {args.mode}: skipped {report['skipped']}, mentions {report.get('mentions')}")
    out: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items() if k != "root"}, "skipped": report["skipped"]}
    rows: list[tuple[str, str, float | None, float, float]] = []

    labels = label_space(train[1])
    full = join(train, dev)
    labels_clef = label_space(full[1])

    def row(protocol: str, method: str, dev_map: float | None, scores: np.ndarray, codes: list[str]) -> None:
        fit_codes = labels if protocol == "train-only" else labels_clef
        rows.append((protocol, method, dev_map, codiesp_map(scores, codes, test[1]), unseen_at(scores, codes, test[1], fit_codes)))

    descriptions = icd10cm_descriptions(labels) if args.mode == "terminology" else None
    # prior row: every document ranks the codes by their training document frequency
    counts = np.array([sum(c in set(g) for g in train[1]) for c in labels], dtype=np.float64)
    prior_dev = codiesp_map(np.tile(counts, (len(dev[0]), 1)), labels, dev[1])
    row("train-only", "frequency prior", prior_dev, np.tile(counts, (len(test[0]), 1)), labels)

    params, search = select_coder(train, dev, labels, descriptions, args.language)
    out["coder_params"], out["coder_search"] = params, search
    coder = MentionCoder(**params).fit(*train, labels, descriptions=descriptions)
    dev_map = codiesp_map(coder.predict_scores(dev[0]), labels, dev[1])
    row("train-only", "dictionary coder", dev_map, coder.predict_scores(test[0]), labels)
    # what negation does, at the chosen parameters (dev)
    no_neg = MentionCoder(**{**params, "negation_window": 0, "negation_factor": 1.0}).fit(*train, labels, descriptions=descriptions)
    out["dev_map_without_negation"] = codiesp_map(no_neg.predict_scores(dev[0]), labels, dev[1])

    desc_clef = icd10cm_descriptions(labels_clef) if args.mode == "terminology" else None
    counts_clef = np.array([sum(c in set(g) for g in full[1]) for c in labels_clef], dtype=np.float64)
    row("CLEF", "frequency prior", None, np.tile(counts_clef, (len(test[0]), 1)), labels_clef)
    clef = MentionCoder(**params).fit(*full, labels_clef, descriptions=desc_clef)
    row("CLEF", "dictionary coder", None, clef.predict_scores(test[0]), labels_clef)

    if args.unseen:
        chosen, unseen_log = select_unseen(train, dev, labels, params)
        out["unseen_dictionary_options"], out["unseen_dictionary_search"] = chosen, unseen_log
        extra, use_desc = split_options(chosen)
        u_params = {**params, **extra}
        u_desc = icd10cm_descriptions(labels) if use_desc else None
        u_coder = MentionCoder(**u_params).fit(*train, labels, descriptions=u_desc)
        row("train-only", "dictionary coder + unseen options", max(e["dev_map"] for e in unseen_log),
            u_coder.predict_scores(test[0]), u_coder.label_codes)
        u_clef = MentionCoder(**u_params).fit(*full, labels_clef, descriptions=icd10cm_descriptions(labels_clef) if use_desc else None)
        row("CLEF", "dictionary coder + unseen options", None, u_clef.predict_scores(test[0]), u_clef.label_codes)

    if args.ranker:
        groups, ablation = ranker_ablation(train, dev, labels, params, descriptions)
        out["ranker_groups"], out["ranker_ablation_dev"] = list(groups), ablation
        ranker = CandidateRanker(params, groups=groups).fit(*train, labels, descriptions=descriptions)
        row("train-only", "dictionary + ranker", max(ablation.values()), ranker.predict_scores(test[0]), labels)
        ranker_clef = CandidateRanker(params, groups=groups).fit(*full, labels_clef, descriptions=desc_clef)
        row("CLEF", "dictionary + ranker", None, ranker_clef.predict_scores(test[0]), labels_clef)

    if args.ranker and args.unseen:
        # the ranker over the chosen dictionary options (the back-off share is no ranker input), then hierarchy candidates
        base_coder = {k: v for k, v in u_params.items() if k not in ("extend_labels", "backoff")}
        trials: list[tuple[dict, dict, float, float]] = []
        for option in [{}, *UNSEEN_RANKER]:
            coder_p = {**base_coder, **({"extend_labels": True} if option.get("extend_labels") else {})}
            ranker_p = {k: v for k, v in option.items() if k != "extend_labels"}
            r = CandidateRanker(coder_p, **ranker_p).fit(*train, labels, descriptions=u_desc)
            scores = r.predict_scores(dev[0])
            trials.append((coder_p, ranker_p, codiesp_map(scores, r.coder.label_codes, dev[1]),
                           unseen_at(scores, r.coder.label_codes, dev[1], labels)))
        out["unseen_ranker_search"] = [{"coder": c, "ranker": rp, "dev_map": m, "unseen@10": u} for c, rp, m, u in trials]
        coder_p, ranker_p, best_dev, _ = max(trials, key=lambda t: t[2])
        out["unseen_ranker_choice"] = {"coder": coder_p, "ranker": ranker_p}
        r = CandidateRanker(coder_p, **ranker_p).fit(*train, labels, descriptions=u_desc)
        row("train-only", "dictionary + ranker + unseen options", best_dev, r.predict_scores(test[0]), r.coder.label_codes)
        r = CandidateRanker(coder_p, **ranker_p).fit(*full, labels_clef, descriptions=icd10cm_descriptions(labels_clef) if use_desc else None)
        row("CLEF", "dictionary + ranker + unseen options", None, r.predict_scores(test[0]), r.coder.label_codes)

    out["rows"] = [{"protocol": p, "method": m, "dev_map": d, "test_map": t, "test_unseen@10": u} for p, m, d, t, u in rows]
    out["seconds"] = round(time.time() - t0, 1)
    print(f"chosen coder parameters (dev): {params}")
    if "dev_map_without_negation" in out:
        print(f"dev MAP without negation at these parameters: {out['dev_map_without_negation']:.4f}")
    if args.ranker:
        print("ranker feature-group ablation (dev MAP): " + ", ".join(f"{k} {v:.4f}" for k, v in out["ranker_ablation_dev"].items()))
    if args.unseen:
        print("unseen options, dictionary (dev MAP, unseen@10): "
              + "; ".join(f"{e['options']} {e['dev_map']:.4f} {e['unseen@10']:.3f}" for e in out["unseen_dictionary_search"]))
        print(f"kept: {out['unseen_dictionary_options']}")
    if args.ranker and args.unseen:
        print("unseen options, ranker (dev MAP, unseen@10): "
              + "; ".join(f"{e['ranker']} {e['dev_map']:.4f} {e['unseen@10']:.3f}" for e in out["unseen_ranker_search"]))
    print("| protocol | method | dev MAP | test MAP | test unseen@10 |\n|---|---|---|---|---|")
    for p, m, d, t, u in rows:
        print(f"| {p} | {m} | {'' if d is None else f'{d:.4f}'} | {t:.4f} | {u:.3f} |")
    print(f"({out['seconds']} s)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
