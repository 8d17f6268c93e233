"""Codes never seen in training on CodiEsp-D: Spanish WHO ICD-10 descriptions as keys (package ``cie``).

    python benchmarks/codiesp_unseen_es.py --root path/to/codiesp [--ranker] [--out FILE.json]

Starts from the packaged dictionary options (evidence keys, English ICD-10-CM descriptions, fuzzy
tokens, label space extended to the ICD-10-CM relatives of the training codes, hierarchy back-off
0.05) and adds the Spanish descriptions of :func:`clincode.coders.terminology.cie10_es_descriptions`
as keys for every code of the extended label space: only codes WHO has (``exact``) or every CM
code through its nearest WHO ancestor (``backoff``), with the smoothing ``alpha`` that lets a key
never seen with its code in training still propose it (0 or 0.1; alpha 0.1 without Spanish keys
is the control). Every choice on dev MAP
(CodiEsp's official MAP over all gold codes); ``unseen@10`` is the share of gold codes outside the
training codes ranked in a document's first 10. With ``--ranker``, the ranker (hierarchy candidates
of the best 30 matched codes, back-off features) over the chosen keys against the same ranker
without Spanish keys, on dev. Test is scored once per method (train-only protocol).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from codiesp_coder import label_space, load, unseen_at

from clincode.coders import MentionCoder
from clincode.coders.evaluate import codiesp_map
from clincode.coders.hierarchy import hierarchy_extension
from clincode.coders.ranker import CandidateRanker
from clincode.coders.registry import DICTIONARY_DEFAULTS
from clincode.coders.terminology import cie10_es_descriptions, icd10cm_descriptions

BASE: dict[str, Any] = {**DICTIONARY_DEFAULTS, "language": "es", "fuzzy": 1, "fuzzy_min_len": 8,
                        "extend_labels": True, "backoff": 0.05}
# the first variant is the control: the smoothing alone, no Spanish key
VARIANTS: list[dict[str, Any]] = [{"spanish": None, "alpha": 0.1}] + [
    {"spanish": s, "alpha": a} for s in ("exact", "backoff") for a in (0.0, 0.1)
]


def descriptions(labels: list[str], spanish: str | None) -> dict[str, list[str]]:
    codes = labels + hierarchy_extension(labels)
    out = {c: list(v) for c, v in icd10cm_descriptions(codes).items()}
    if spanish is not None:
        for c, phrases in cie10_es_descriptions(codes, backoff=spanish == "backoff").items():
            out[c] = list(dict.fromkeys(out.get(c, []) + phrases))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--ranker", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    t0 = time.time()
    parts, _ = load(args.root, "es", "D", True)
    train, dev, test = parts["train"], parts["dev"], parts["test"]
    labels = label_space(train[1])
    log: list[dict[str, Any]] = []

    def score(coder: Any, texts: list[str], gold: list[list[str]]) -> tuple[float, float]:
        scores = coder.predict_scores(texts)
        codes = coder.label_codes if isinstance(coder, MentionCoder) else coder.coder.label_codes
        return codiesp_map(scores, codes, gold), unseen_at(scores, codes, gold, labels)

    def dictionary(variant: dict[str, Any]) -> MentionCoder:
        params = {**BASE, **{k: v for k, v in variant.items() if k != "spanish"}}
        return MentionCoder(**params).fit(*train, labels, descriptions=descriptions(labels, variant.get("spanish")))

    rows: list[tuple[str, float, float, float, float]] = []
    base = dictionary({})
    dev_base = score(base, dev[0], dev[1])
    log.append({"method": "dictionary", "variant": {}, "dev_map": dev_base[0], "dev_unseen@10": dev_base[1]})
    print(f"dictionary, packaged options: dev MAP {dev_base[0]:.4f}, unseen@10 {dev_base[1]:.3f} ({time.time() - t0:.0f} s)", flush=True)
    best, best_variant = dev_base, {}
    best_spanish: tuple[float, dict[str, Any]] | None = None
    for variant in VARIANTS:
        s = score(dictionary(variant), dev[0], dev[1])
        log.append({"method": "dictionary", "variant": variant, "dev_map": s[0], "dev_unseen@10": s[1]})
        print(f"dictionary + Spanish {variant}: dev MAP {s[0]:.4f}, unseen@10 {s[1]:.3f} ({time.time() - t0:.0f} s)", flush=True)
        if s[0] > best[0] + 1e-9:
            best, best_variant = s, variant
        if variant["spanish"] is not None and (best_spanish is None or s[0] > best_spanish[0] + 1e-9):
            best_spanish = (s[0], variant)
    t_base = score(base, test[0], test[1])
    rows.append(("dictionary, packaged options", *dev_base, *t_base))
    if best_variant:
        rows.append((f"dictionary {best_variant}", *best, *score(dictionary(best_variant), test[0], test[1])))
    if args.ranker:
        ranked = {}
        for name, variant in (("ranker, packaged options", {}), ("ranker + Spanish keys", best_spanish[1] if best_spanish else VARIANTS[-1])):
            coder_p = {**BASE, **{k: v for k, v in variant.items() if k != "spanish"}}
            coder_p.pop("backoff")
            r = CandidateRanker(coder_p, hierarchy_top=30).fit(*train, labels, descriptions=descriptions(labels, variant.get("spanish")))
            ranked[name] = (variant, r, score(r, dev[0], dev[1]))
            log.append({"method": name, "variant": variant, "dev_map": ranked[name][2][0], "dev_unseen@10": ranked[name][2][1]})
            print(f"{name} {variant}: dev MAP {ranked[name][2][0]:.4f}, unseen@10 {ranked[name][2][1]:.3f} ({time.time() - t0:.0f} s)", flush=True)
        for name, (variant, r, dev_s) in ranked.items():
            rows.append((f"{name} {variant or ''}".strip(), *dev_s, *score(r, test[0], test[1])))
    print("| method | dev MAP | dev unseen@10 | test MAP | test unseen@10 |\n|---|---:|---:|---:|---:|")
    for name, dm, du, tm, tu in rows:
        print(f"| {name} | {dm:.4f} | {du:.3f} | {tm:.4f} | {tu:.3f} |")
    print(f"({time.time() - t0:.0f} s)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"log": log, "rows": rows, "base": BASE}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
