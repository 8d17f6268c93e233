"""CodiEsp-X (explainable coding) on the Spanish release: lookup baseline, dictionary coder, ranker.

    python benchmarks/codiesp_x.py --root path/to/codiesp [--ranker] [--out FILE.json]

Each code type has its own coder (fitted on the D or the P codes and their evidence spans); a
code is written with the spans of the key matches that carry its score
(:meth:`clincode.coders.MentionCoder.code_spans`) and scored with the CodiEsp-X rule
(:mod:`clincode.metrics.codiesp_x`: a gold (document, code) pair is a hit when a predicted span of
that code contains a gold reference, overshooting by at most 10 characters on each side; micro
P/R/F1 over distinct pairs) against the release's own ``{dev,test}X.tsv``.

Operating point, per code type, chosen on dev only (train-only protocol): a score threshold, a cap
on codes per document (top-k) and a cap on spans per code, the combination with the best dev X F1
of that type. Test is scored once per method and protocol:

- ``train-only``: fit on train, choose on dev, score test;
- ``CLEF``: the same choices, fitted on train + dev (as the 2020 shared task allowed), score test.

``--search`` adds a dictionary coder whose options (longest match only, bag window, fuzzy tokens,
stem prefix) are chosen per code type on dev X F1, one stage after the other, each kept only if
dev X F1 rises (:data:`SEARCH`); its operating point is then chosen as above. ``--spanish`` adds
a D coder with the WHO ICD-10 Spanish descriptions as keys over a label space extended to the
ICD-10-CM relatives of the training codes (:data:`SPANISH_PARAMS`; P codes as the plain coder).

Baseline ``lookup``: every occurrence (case-insensitive, whole words) in the text of a training
evidence string is predicted with every code that string was annotated with; no parameter, nothing
chosen on dev. It follows the idea of the organisers' look-up baseline
(tonifuc3m/codiesp-baseline-lookup), which also normalises punctuation inside a match and drops a
match contained in a longer one; this one keeps overlapping matches.

The pooled X score joins the D and P predictions against every gold reference. The valid-code
lists of the official script are not used (every predicted code is a code of the release).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clincode.coders import MentionCoder
from clincode.coders.hierarchy import hierarchy_extension
from clincode.coders.ranker import CandidateRanker
from clincode.coders.registry import DICTIONARY_DEFAULTS
from clincode.coders.terminology import cie10_es_descriptions
from clincode.data.notes import read_codiesp
from clincode.metrics.codiesp_x import LABELS, Reference, codiesp_x_by_type, codiesp_x_score, read_x_gold
from clincode.tasks.coding.submission import codiesp_code

SPLITS = {"train": "train", "dev": "tuning", "test": "held_out"}
FILES = {"dev": "dev/devX.tsv", "test": "test/testX.tsv"}
# the packaged dictionary options (chosen on CodiEsp-D dev MAP), fuzzy reading included; keys from evidence only
CODER_PARAMS: dict[str, Any] = {**DICTIONARY_DEFAULTS, "language": "es", "fuzzy": 1, "fuzzy_min_len": 8}
TOP_KS: tuple[int | None, ...] = (1, 2, 3, 5, 8, 10, 15, 20, 30, None)
SPANS_PER_CODE: tuple[int | None, ...] = (1, 2, 3, 5, None)
N_THRESHOLDS = 60
# --spanish: keys from the WHO ICD-10 Spanish descriptions (back-off to the nearest WHO ancestor) for
# the training codes and their ICD-10-CM relatives, smoothing that lets them propose codes never
# seen in training (the options chosen on dev MAP by benchmarks/codiesp_unseen_es.py); P unchanged
SPANISH = "dictionary coder + Spanish WHO descriptions (D)"
SPANISH_PARAMS: dict[str, Any] = {"alpha": 0.1, "extend_labels": True}


def load(root: Path, code_type: str) -> dict[str, tuple]:
    table = read_codiesp(root, language="es", code_types=(code_type,), mentions=True, on_error="skip")
    frame = table.frame
    out = {}
    for name, split in SPLITS.items():
        part = frame.filter(frame["split"] == split)
        ids = part["doc_id"].to_list()
        out[name] = (ids, part["text"].to_list(), part["codes"].to_list(), table.mentions_by_doc(ids))
    return out


def join(a: tuple, b: tuple) -> tuple:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def labels_of(*golds: Sequence[Sequence[str]]) -> list[str]:
    return sorted({c for gold in golds for codes in gold for c in codes})


def candidates(scores: np.ndarray, spans: list[dict], labels: list[str]) -> list[list[tuple[float, str, list[tuple[int, int]]]]]:
    """Per document, its codes with evidence, best first: (score, CodiEsp code, spans strongest first)."""
    names = [codiesp_code(c) for c in labels]
    out = []
    for d, doc_spans in enumerate(spans):
        rows = [(float(scores[d, j]), j, [s.as_pair() for s in ss]) for j, ss in doc_spans.items() if ss]
        rows.sort(key=lambda r: (-r[0], r[1]))
        out.append([(s, names[j], ss) for s, j, ss in rows])
    return out


def references(doc_ids: list[str], cands: list, label: str, threshold: float, top_k: int | None, spans: int | None) -> list[Reference]:
    out = []
    for doc, rows in zip(doc_ids, cands, strict=True):
        kept = [r for r in rows if r[0] >= threshold][:top_k]
        for _, code, pairs in kept:
            out += [Reference(doc, label, code, s, e) for s, e in pairs[:spans]]
    return out


def choose(doc_ids: list[str], cands: list, gold: list[Reference], label: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The (threshold, top_k, spans_per_code) of best X F1 on these (dev) documents, and the search log."""
    values = np.array([r[0] for rows in cands for r in rows])
    grid = np.unique(np.quantile(values, np.linspace(0.0, 0.99, N_THRESHOLDS))) if len(values) else np.array([0.0])
    log: list[dict[str, Any]] = []
    for threshold in grid:
        for top_k in TOP_KS:
            for spans in SPANS_PER_CODE:
                s = codiesp_x_score(gold, references(doc_ids, cands, label, float(threshold), top_k, spans))
                log.append({"threshold": float(threshold), "top_k": top_k, "spans_per_code": spans, **s.to_dict()})
    best = max(log, key=lambda r: (r["f1"], r["precision"]))
    return {k: best[k] for k in ("threshold", "top_k", "spans_per_code")}, log


# --search: dictionary options tried on dev X F1, one stage after the other (kept if dev X F1 rises)
SEARCH: list[tuple[str, list[dict[str, Any]]]] = [
    ("longest match only", [{"longest_only": True}]),
    ("bag window", [{"bag_window": w} for w in (4, 8, 10)]),
    ("fuzzy tokens", [{"fuzzy": 0}, {"fuzzy": 1, "fuzzy_min_len": 6}, {"fuzzy": 2, "fuzzy_min_len": 8}]),
    ("stem prefix", [{"prefix_len": n} for n in (6, 7)]),
]


def quick_f1(coder: MentionCoder, dev: tuple, dev_gold: list[Reference], label: str) -> float:
    """Dev X F1 at the best threshold and top-k (every span), a smaller grid than :func:`choose`."""
    cands = candidates(coder.predict_proba(dev[1]), coder.evidence_spans(dev[1]), coder.label_codes)
    values = np.array([r[0] for rows in cands for r in rows])
    grid = np.unique(np.quantile(values, np.linspace(0.0, 0.95, 30))) if len(values) else np.array([0.0])
    return max(codiesp_x_score(dev_gold, references(dev[0], cands, label, float(t), k, None)).f1
               for t in grid for k in (5, 10, 20, None))


def search_options(train: tuple, dev: tuple, dev_gold: list[Reference], label: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Dictionary options chosen on dev X F1 (coordinate search over :data:`SEARCH`) and the log."""
    labels = labels_of(train[2])

    def f1(options: dict[str, Any]) -> float:
        coder = MentionCoder(**{**CODER_PARAMS, **options}).fit(train[1], train[2], train[3], labels)
        return quick_f1(coder, dev, dev_gold, label)

    chosen: dict[str, Any] = {}
    best = f1({})
    log: list[dict[str, Any]] = [{"options": {}, "dev_f1": best}]
    for _, options in SEARCH:
        stage = [(f1({**chosen, **o}), o) for o in options]
        log += [{"options": {**chosen, **o}, "dev_f1": v} for v, o in stage]
        score, option = max(stage, key=lambda t: t[0])
        if score > best + 1e-9:
            best, chosen = score, {**chosen, **option}
    return chosen, log


def miss_breakdown(doc_ids: list[str], cands: list, gold: list[Reference], train_codes: set[str]) -> dict[str, int]:
    """Dev gold (document, code) pairs: hit by some span of the code, code without any span (of
    which: code never annotated in training), code with spans that all miss.
    """
    spans = {(doc, code): pairs for doc, rows in zip(doc_ids, cands, strict=True) for _, code, pairs in rows}
    refs: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for r in gold:
        refs.setdefault((r.doc, r.code), []).append((r.start, r.end))
    out = {"gold pairs": len(refs), "hit": 0, "no span": 0, "no span, code unseen in training": 0, "spans miss": 0}
    for pair, gold_refs in refs.items():
        pred = spans.get(pair)
        if not pred:
            out["no span"] += 1
            out["no span, code unseen in training"] += pair[1] not in train_codes
        elif any(0 <= gs - ps <= 10 and 0 <= pe - ge <= 10 for gs, ge in gold_refs for ps, pe in pred):
            out["hit"] += 1
        else:
            out["spans miss"] += 1
    return out


def lookup_references(train: tuple, doc_ids: list[str], texts: list[str], label: str) -> list[Reference]:
    """Baseline: every whole-word, case-insensitive occurrence of a training evidence string, with its codes."""
    codes_of: dict[str, set[str]] = {}
    for mentions in train[3]:
        for m in mentions:
            text = " ".join(str(m["text"]).lower().split())
            if text:
                codes_of.setdefault(text, set()).add(codiesp_code(m["code"]))
    strings = sorted(codes_of, key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(s).replace(r"\ ", r"\s+") for s in strings) + r")(?!\w)")
    out = []
    for doc, text in zip(doc_ids, texts, strict=True):
        lowered = text.lower()  # same length as text for this corpus (checked below)
        if len(lowered) != len(text):
            raise ValueError(f"{doc}: lower-casing changes the text length; offsets would shift")
        pos = 0
        while (m := pattern.search(lowered, pos)) is not None:
            key = " ".join(m.group().split())
            out += [Reference(doc, label, c, m.start(), m.end()) for c in sorted(codes_of.get(key, ()))]
            pos = m.start() + 1  # overlapping occurrences of shorter strings too
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="CodiEsp release directory (train/, dev/, test/)")
    parser.add_argument("--ranker", action="store_true", help="also fit and score the candidate ranker")
    parser.add_argument("--search", action="store_true", help="also choose dictionary options on dev X F1 (per code type)")
    parser.add_argument("--spanish", action="store_true",
                        help="also a dictionary coder with Spanish WHO ICD-10 descriptions as keys for D (package cie)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    t0 = time.time()
    gold = {split: read_x_gold(args.root / path) for split, path in FILES.items()}
    methods = (["lookup", "dictionary coder"] + (["dictionary + ranker"] if args.ranker else [])
               + (["dictionary coder, options chosen on dev X F1"] if args.search else [])
               + ([SPANISH] if args.spanish else []))
    preds: dict[tuple[str, str], list[Reference]] = {}  # (protocol, method) -> test references, both types
    out: dict[str, Any] = {"coder_params": CODER_PARAMS, "choices": {}, "dev": {}}
    extra: dict[str, dict[str, Any]] = {}  # --search: options chosen per code type
    for kind, label in LABELS.items():
        parts = load(args.root, kind)
        train, dev, test = parts["train"], parts["dev"], parts["test"]
        dev_gold = [r for r in gold["dev"] if r.label == label]
        for protocol, fit in (("train-only", train), ("CLEF", join(train, dev))):
            preds.setdefault((protocol, "lookup"), []).extend(lookup_references(fit, test[0], test[1], label))
        out["dev"][f"{kind} lookup"] = codiesp_x_score(dev_gold, lookup_references(train, dev[0], dev[1], label)).to_dict()
        if args.search:
            extra[kind], out[f"search {kind}"] = search_options(train, dev, dev_gold, label)
            print(f"{kind} options chosen on dev X F1: {extra[kind]} ({time.time() - t0:.0f} s)", flush=True)
        for method in methods[1:]:
            choice: dict[str, Any] | None = None
            for protocol, fit in (("train-only", train), ("CLEF", join(train, dev))):
                labels = labels_of(fit[2])
                descriptions = None
                if method == "dictionary + ranker":
                    coder: Any = CandidateRanker(dict(CODER_PARAMS))
                elif method == SPANISH:
                    coder = MentionCoder(**{**CODER_PARAMS, **(SPANISH_PARAMS if kind == "D" else {})})
                    if kind == "D":
                        descriptions = cie10_es_descriptions(labels + hierarchy_extension(labels))
                else:
                    coder = MentionCoder(**{**CODER_PARAMS, **(extra.get(kind, {}) if method != "dictionary coder" else {})})
                coder.fit(fit[1], fit[2], fit[3], labels, descriptions=descriptions)
                codes = coder.label_codes if isinstance(coder, MentionCoder) else coder.coder.label_codes
                if choice is None:  # train-only: the operating point comes from dev
                    dev_c = candidates(coder.predict_proba(dev[1]), coder.evidence_spans(dev[1]), codes)
                    choice, log = choose(dev[0], dev_c, dev_gold, label)
                    best = max(log, key=lambda r: (r["f1"], r["precision"]))
                    out["choices"][f"{kind} {method}"] = choice
                    out["dev"][f"{kind} {method}"] = best
                    # what each knob gives on dev at the others' chosen values
                    out["dev"][f"{kind} {method} spans_per_code"] = {
                        str(r["spans_per_code"]): r["f1"] for r in log
                        if r["threshold"] == choice["threshold"] and r["top_k"] == choice["top_k"]}
                    out["dev"][f"{kind} {method} top_k"] = {
                        str(r["top_k"]): r["f1"] for r in log
                        if r["threshold"] == choice["threshold"] and r["spans_per_code"] == choice["spans_per_code"]}
                    if method == "dictionary coder":
                        names = {codiesp_code(c) for c in codes}
                        out["dev"][f"{kind} misses"] = miss_breakdown(dev[0], dev_c, dev_gold, names)
                        print(f"{kind} dev gold pairs, every span of every code with evidence: {out['dev'][f'{kind} misses']}")
                    print(f"{kind} {method}: dev choice {choice}, dev X P/R/F1 {best['precision']:.3f}/{best['recall']:.3f}/{best['f1']:.3f}"
                          f" ({time.time() - t0:.0f} s)", flush=True)
                test_c = candidates(coder.predict_proba(test[1]), coder.evidence_spans(test[1]), codes)
                preds.setdefault((protocol, method), []).extend(
                    references(test[0], test_c, label, choice["threshold"], choice["top_k"], choice["spans_per_code"]))
    rows = []
    for (protocol, method), refs in preds.items():
        s = codiesp_x_by_type(gold["test"], refs)
        rows.append({"protocol": protocol, "method": method, **{k: v.to_dict() for k, v in s.items()}})
    out["rows"], out["seconds"] = rows, round(time.time() - t0, 1)
    print("| protocol | method | X F1 all (P / R) | X F1 D (P / R) | X F1 P (P / R) |\n|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (r["protocol"] != "train-only", methods.index(r["method"]))):
        cell = lambda s: f"{s['f1']:.3f} ({s['precision']:.3f} / {s['recall']:.3f})"  # noqa: E731
        print(f"| {r['protocol']} | {r['method']} | {cell(r['all'])} | {cell(r['D'])} | {cell(r['P'])} |")
    print(f"({out['seconds']} s)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
