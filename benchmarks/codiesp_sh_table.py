"""Table of the finished shpipe runs and the noise-filter report (from the prepared task caches)."""
import json
import sys
from pathlib import Path

root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "runs" / "sh"
print(
    "| loss | filter | AUROC micro | AUROC macro | AUPRC micro | AUPRC macro | P@5 | MAP | MAP all gold "
    "| F1 micro (global thr.) | F1 macro (per-label thr.) | tail AUPRC macro |"
)
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for run in sorted(root.glob("sh_*")):
    f = run / "metrics.json"
    if not f.is_file():
        continue
    m = json.loads(f.read_text())
    loss, tau = run.name[3:].rsplit("_tau", 1)
    r = m["ranking"]
    print(f"| {loss} | {'none' if tau == 'null' else tau} | {r['auroc_micro']:.4f} | {r['auroc_macro']:.4f} | {r['auprc_micro']:.4f} | "
          f"{r['auprc_macro']:.4f} | {m['at_k']['p@5']:.4f} | {m['map']:.4f} | {m['coding']['map_all_gold']:.4f} | "
          f"{m['rules']['global']['f1_micro']:.4f} | {m['rules']['per_label']['f1_macro']:.4f} | {m['buckets']['tail']['ranking']['auprc_macro']:.4f} |")
for meta in sorted((root / ".cache").glob("coding-*/meta.json")):
    rep = json.loads(meta.read_text())["report"]
    if "noise_filter" in rep:
        print(json.dumps(rep["noise_filter"], indent=1))
        print("labels after filter:", rep["num_labels"])
