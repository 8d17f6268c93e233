"""Fit and predict time and peak memory of the one-pass coders on CodiEsp-D (Spanish, evidence spans).

    python benchmarks/coder_speed.py path/to/codiesp [--coder mention_dictionary|mention_ranker] [--repeats 3]

Fits the coder on the 500 training documents with their evidence mentions, then scores the 250
test documents, ``--repeats`` times each in this process; prints the minimum and median seconds,
documents per second, the size of the saved state (JSON) and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

from clincode.coders import build_coder
from clincode.data.notes import read_codiesp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="CodiEsp release directory (train/, dev/, test/)")
    parser.add_argument("--coder", default="mention_dictionary", choices=["mention_dictionary", "mention_ranker"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    table = read_codiesp(args.root, language="es", code_types=("D",), mentions=True, on_error="skip")
    frame = table.frame
    train = frame.filter(frame["split"] == "train")
    test = frame.filter(frame["split"] == "held_out")
    texts, gold = train["text"].to_list(), train["codes"].to_list()
    mentions = table.mentions_by_doc(train["doc_id"].to_list())
    labels = sorted({c for codes in gold for c in codes})
    fit_s, predict_s = [], []
    coder = None
    for _ in range(args.repeats):
        coder = build_coder(args.coder, {}, "es")
        start = time.perf_counter()
        coder.fit(texts, gold, mentions, labels)
        fit_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        coder.predict_proba(test["text"].to_list())
        predict_s.append(time.perf_counter() - start)
    assert coder is not None
    state_bytes = len(json.dumps(coder.to_dict()).encode())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n_test = test.height
    print(f"coder {args.coder}: {len(texts)} training documents, {len(labels)} labels, {n_test} test documents")
    print(f"fit      min {min(fit_s):.2f} s  median {statistics.median(fit_s):.2f} s")
    print(f"predict  min {min(predict_s):.2f} s  median {statistics.median(predict_s):.2f} s  ({n_test / min(predict_s):.0f} documents/s)")
    print(f"state    {state_bytes / 1e6:.1f} MB of JSON;  peak resident memory {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
