"""``clincode audit RUN_DIR``: what dependency structure a run's loss learned, and how it relates
to the data.

Writes ``RUN_DIR/audit/``: ``audit.md`` (readable), ``audit.json`` (numbers), ``pairs.parquet``
(strongest positive / negative pairs with descriptions), ``dependency_matrix.parquet`` (all pairs
of W with code names), ``figures/w_heatmap.png`` (W over the most frequent codes ordered by ICD-10
chapter), ``figures/pmi_heatmap.png`` (the same codes' training PMI, for comparison) and
``figures/balance.png`` (per-code held-out loss against training frequency).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.console import Console

from clincode.audit.dependency import (
    annotate_pairs,
    cooccurrence,
    pmi,
    recovery_auroc,
    strongest_pairs,
    top_pair_precision,
    true_pair_matrix,
    w_pmi_correlation,
)
from clincode.io import atomic_path, check_writable_dir, staging_dir, write_json, write_text
from clincode.report import plots
from clincode.train.runs import load_run


def _chapter(code: str) -> str:
    from clincode.codes import icd10_chapter

    try:
        return icd10_chapter(code)
    except ValueError:
        return "~other"


def audit_run(run_dir: Path, *, top_pairs: int = 20, heatmap_codes: int = 50, console: Console | None = None) -> Path:
    console = console or Console(stderr=True)
    run_dir = Path(run_dir)
    check_audit_options(run_dir, top_pairs=top_pairs, heatmap_codes=heatmap_codes)
    artefact, cfg = load_run(run_dir)
    from clincode.losses import HasDependencyMatrix

    loss = artefact.build_loss()
    if not isinstance(loss, HasDependencyMatrix):
        raise ValueError(
            f"run {run_dir} was trained with loss {cfg.loss.name!r}, which learns no dependency matrix; "
            "audit a run of a loss that learns W (dependency_aware, dependency_log, dependency_pl)"
        )
    final = run_dir / "audit"
    with staging_dir(final, overwrite=True) as out:  # the audit appears whole, or not at all
        _write_audit(out, run_dir, artefact, cfg, loss, top_pairs, heatmap_codes, console)
    console.print((final / "audit.md").read_text(encoding="utf-8"))
    return final


def check_audit_options(run_dir: Path, *, top_pairs: int, heatmap_codes: int) -> None:
    """Reject bad options and an unusable run directory before anything is read or written."""
    if isinstance(top_pairs, bool) or not isinstance(top_pairs, int) or top_pairs < 1:
        raise ValueError(f"--top-pairs must be an integer >= 1; got {top_pairs!r}")
    if isinstance(heatmap_codes, bool) or not isinstance(heatmap_codes, int) or heatmap_codes < 2:
        raise ValueError(f"--heatmap-codes must be an integer >= 2; got {heatmap_codes!r}")
    if not run_dir.exists():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    if not run_dir.is_dir():
        raise NotADirectoryError(f"{run_dir} is a file; expected a run directory written by `clincode train`")
    check_writable_dir(run_dir, "the audit is written to RUN_DIR/audit")


def _write_audit(
    out: Path, run_dir: Path, artefact: Any, cfg: Any, loss: Any, top_pairs: int, heatmap_codes: int, console: Console
) -> None:
    from clincode.data.labels import LabelSpace
    from clincode.losses import export_dependency_matrix
    from clincode.tasks import task_for

    figs = out / "figures"
    w_t = loss.dependency_matrix()
    w = w_t.numpy().astype(np.float64)
    labels = LabelSpace.from_dict(artefact.label_space)
    codes, descriptions = list(labels.codes_), labels.descriptions()
    export_dependency_matrix(w_t, codes, out / "dependency_matrix.parquet")

    task = task_for(cfg)
    data = task.prepare(cfg, console=console)
    stats = task.label_stats(data)
    assert stats.indptr is not None and stats.indices is not None  # the label stats of a task's data
    c, counts, n_rows = cooccurrence(stats.indptr, stats.indices, len(codes))
    pmi_m = pmi(c, counts, n_rows)
    corr = w_pmi_correlation(w, pmi_m, c)

    result: dict[str, Any] = {
        "run": str(run_dir),
        "loss": cfg.loss.name,
        "num_labels": len(codes),
        "w_summary": {
            "mean": float(w[np.triu_indices(len(codes), 1)].mean()),
            "std": float(w[np.triu_indices(len(codes), 1)].std()),
            "max": float(w.max()),
            "min": float(w.min()),
        },
        "w_vs_training_pmi": corr,
    }
    truth_path = Path(cfg.data.path) / "metadata" / "true_dependency.parquet" if cfg.data.path else None
    if truth_path is not None and truth_path.is_file():
        truth = true_pair_matrix(codes, pl.read_parquet(truth_path))
        result["true_structure_recovery"] = recovery_auroc(w, truth, baseline=np.abs(pmi_m) * (c > 0))
        result["true_structure_recovery"].update(
            {f"top{k}_precision_abs_w": top_pair_precision(np.abs(w), truth, k) for k in (100, 1000)}
            | {f"top{k}_precision_baseline": top_pair_precision(np.abs(pmi_m) * (c > 0), truth, k) for k in (100, 1000)}
        )
    else:
        truth = None
    pairs = annotate_pairs(strongest_pairs(w, codes, descriptions, k=top_pairs), codes, pmi_m, c, truth)
    with atomic_path(out / "pairs.parquet") as tmp:
        pairs.write_parquet(tmp)

    # Heatmap: the most frequent codes, grouped by ICD-10 chapter.
    top = np.argsort(-np.asarray(labels.counts_), kind="stable")[:heatmap_codes]
    chapters = [_chapter(codes[i]) for i in top]
    order = sorted(range(len(top)), key=lambda k: (chapters[k], -labels.counts_[top[k]]))
    idx = top[order]
    edges = [k for k in range(1, len(order)) if chapters[order[k]] != chapters[order[k - 1]]]
    short = [codes[i].split("//")[-1] for i in idx]
    plots.heatmap(w[np.ix_(idx, idx)], short, figs / "w_heatmap.png", f"learned W, {len(idx)} most frequent codes by chapter", edges)
    plots.heatmap(pmi_m[np.ix_(idx, idx)], short, figs / "pmi_heatmap.png", "training PMI, same codes", edges)
    per_label = run_dir / "per_label.parquet"
    if per_label.is_file():
        t = pl.read_parquet(per_label)
        plots.balance_plot({cfg.loss.name: (t["train_count"].to_numpy().astype(float), t["mean_bce"].to_numpy())}, figs / "balance.png")
    write_json(out / "audit.json", result)
    write_text(out / "audit.md", _markdown(result, pairs))


def _fmt(x: Any) -> str:
    return f"{x:.4f}" if isinstance(x, float) else str(x)


def _markdown(result: dict[str, Any], pairs: pl.DataFrame) -> str:
    lines = [f"# Dependency audit: {result['run']}", "", f"Loss `{result['loss']}`, V = {result['num_labels']}.", ""]
    lines += ["W (effective, symmetric, zero diagonal) off-diagonal entries: "
              + ", ".join(f"{k} {_fmt(v)}" for k, v in result["w_summary"].items()), ""]
    corr = result["w_vs_training_pmi"]
    lines += [
        f"Correlation of W with training-split PMI over the {corr['pairs']:,} pairs that co-occur: "
        f"Pearson {_fmt(corr['pearson'])}, Spearman {_fmt(corr['spearman'])}.",
        "",
    ]
    rec = result.get("true_structure_recovery")
    if rec:
        lines += [
            f"Recovery of the generator's true coupled pairs ({rec['true_pairs']:,} of {rec['pairs']:,} pairs): "
            f"AUROC of |W| {_fmt(rec.get('auroc_abs_w'))}, of signed W {_fmt(rec.get('auroc_w'))}; "
            f"for reference, |PMI| of co-occurring pairs {_fmt(rec.get('auroc_baseline'))}. "
            f"Truly coupled among the 100 / 1,000 largest |W|: {_fmt(rec.get('top100_precision_abs_w'))} / "
            f"{_fmt(rec.get('top1000_precision_abs_w'))} (|PMI|: {_fmt(rec.get('top100_precision_baseline'))} / "
            f"{_fmt(rec.get('top1000_precision_baseline'))}).",
            "",
        ]
    coupled = "truly_coupled" in pairs.columns
    lines += [
        "## Strongest pairs",
        "",
        "| sign | code a | description a | code b | description b | W | train co-occ. | train PMI |" + (" coupled |" if coupled else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|" if coupled else ""),
    ]
    for r in pairs.iter_rows(named=True):
        lines.append(
            f"| {r['sign']} | {r['code_a']} | {r['description_a'][:50]} | {r['code_b']} | {r['description_b'][:50]} | {r['weight']:+.4f} "
            f"| {r['train_cooccurrence']} | {r['train_pmi']:+.2f} |" + ((" yes |" if r["truly_coupled"] else " no |") if coupled else "")
        )
    lines += ["", "![W heatmap](figures/w_heatmap.png)", "", "![PMI heatmap](figures/pmi_heatmap.png)", ""]
    return "\n".join(lines) + "\n"
