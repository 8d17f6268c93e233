"""Time to accuracy: clincode's EHR Transformer against PyHealth 1.1.6's Transformer, same samples.

What it does, in one run on one machine:

1. Builds PyHealth's environment if it is missing (``--pyhealth-venv``, default
   ``benchmarks-out/pyhealth-venv``): a venv with the CPU torch both sides use, PyHealth 1.1.6
   (installed without its dependency list, which asks for a torchvision that cannot load beside
   that torch) and the pinned packages of :data:`PYHEALTH_PACKAGES` (PyHealth 1.1.6 needs numpy < 2).
2. Generates a synthetic cohort (``--patients``) and prepares clincode's next-visit task from a
   clincode config (``--config``, default the packaged ``next_visit``; ``--set`` overrides).
3. Exports every (patient, target visit) of the task to PyHealth: ``conditions`` = the input code
   sets of visits 0..t, ``label`` = the label columns of visit t + 1. Both sides therefore see the
   same input codes and predict the same target matrix, row for row; clincode also sees age and sex
   (its model's inputs), PyHealth's Transformer takes codes only.
4. Starts one worker process per side (clincode in this venv, ``benchmarks/pyhealth_runner.py`` in
   PyHealth's) and alternates them, chunk for chunk (``--chunks-per-epoch`` per epoch of training
   samples), so both share the machine's load. Only training time is clocked; after every chunk each
   side predicts the tuning (val) and held-out (test) rows, scored here with clincode's metrics.
5. Beside both sides, the history baselines (training prevalence, the per-label repeat table,
   TIFU-KNN) and the cohort's Bayes forecast (``oracle``, the ceiling), fitted in one pass on the
   same training rows (settings chosen on the tuning split) and scored on the same held-out rows,
   with repeat and explore AUPRC for every row of the table (``clincode.metrics.repeat_explore``).
6. Early stopping on the tuning split for both (``--patience`` epochs without a better val micro
   AUPRC, at most ``--epochs``); writes ``curves.csv`` (one row per side and chunk: steps,
   predictions, cumulative training seconds, val / test micro AUPRC, test AUROC and P@5),
   ``summary.json``, ``summary.md`` (the targets, the ratios, peak memory of each process) and
   ``curves.png`` (held-out AUPRC against training seconds and against steps).

    .venv/bin/python benchmarks/pyhealth_compare.py --patients 4000 --out benchmarks-out/pyhealth

PyHealth side: ``Transformer(embedding_dim, heads, num_layers, dropout)`` trained as its ``Trainer``
does (Adam, lr 1e-3, no weight decay), ``--pyhealth-dropout`` defaulting to its own 0.5; sizes
matched to clincode's config (``d_model``, ``n_heads``, ``n_layers``). clincode side: the
config's model, loss, optimiser (AdamW, warm-up, gradient clipping) and batch sampler, the training
step of ``clincode train`` without Lightning's loop around it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pickle
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from pyhealth_runner import peak_mb, reply  # noqa: E402  (stdlib only: the worker protocol both sides speak)

RUNNER = HERE / "pyhealth_runner.py"
TORCH = "torch==2.13.0"
# Versions this comparison was run with (PyHealth 1.1.6's own ranges admit them).
PYHEALTH_PACKAGES = [
    "numpy==1.26.4",
    "pandas==1.5.3",
    "scikit-learn==1.9.1",
    "scipy==1.17.1",
    "networkx==3.6.1",
    "tqdm==4.70.1",
    "rdkit==2026.9.1",
    "mne==1.12.1",
    "pandarallel==1.6.5",
    "urllib3==1.26.15",
    "setuptools==80.10.2",
]


# ---------------------------------------------------------------------------------------------
# environment and data


def ensure_pyhealth_venv(venv: Path) -> Path:
    """The venv's python, creating and filling the venv first when it is missing."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import pyhealth, numpy, torch; assert pyhealth.__version__ == '1.1.6'"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"building PyHealth 1.1.6's environment in {venv} (a few minutes, once)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, TORCH], check=True)
    subprocess.run([*pip, "--no-deps", "pyhealth==1.1.6"], check=True)
    subprocess.run([*pip, TORCH, *PYHEALTH_PACKAGES], check=True)
    subprocess.run(check, check=True)
    return python


def split_rows(table: Any) -> tuple[list[dict[str, Any]], np.ndarray, list[tuple[int, int]]]:
    """One split's samples in PyHealth's format, its target matrix and the (subject, visit) of each row.

    Row order: patients in table order, visits in time order; visit t (not the last) is a row whose
    target is the label set of visit t + 1 (the rows of clincode's batches whose targets are not -1).
    """
    samples: list[dict[str, Any]] = []
    keys: list[tuple[int, int]] = []
    labels_of_rows: list[list[int]] = []
    for subject, tokens, labels in zip(table["subject_id"].to_list(), table["tokens"].to_list(), table["labels"].to_list(), strict=True):
        for t in range(len(tokens) - 1):
            target = sorted(int(c) for c in labels[t + 1])
            samples.append(
                {
                    "patient_id": str(subject),
                    "visit_id": f"{subject}-{t}",
                    "conditions": [[f"t{int(c)}" for c in visit] for visit in tokens[: t + 1]],
                    "label": [str(c) for c in target],
                }
            )
            keys.append((int(subject), t))
            labels_of_rows.append(target)
    return samples, labels_of_rows, keys  # type: ignore[return-value]


def target_matrix(labels_of_rows: list[list[int]], num_labels: int) -> np.ndarray:
    y = np.zeros((len(labels_of_rows), num_labels), dtype=np.int8)
    for i, cols in enumerate(labels_of_rows):
        y[i, cols] = 1
    return y


# ---------------------------------------------------------------------------------------------
# clincode worker


def clincode_worker(args: argparse.Namespace) -> None:
    import torch
    from rich.console import Console
    from torch.utils.data import DataLoader

    from clincode.config import load_config
    from clincode.tasks import task_for
    from clincode.tasks.next_visit.batches import NextVisitCollator, next_visit_dataset
    from clincode.train.module import ClincodeModule

    torch.set_num_threads(args.threads)
    cfg = load_config(_config_file(args.config), args.set)
    torch.manual_seed(cfg.seed)
    task = task_for(cfg)
    data = task.prepare(cfg, console=Console(stderr=True, quiet=True))
    parts = task.build_parts(cfg, data)
    module = ClincodeModule(parts.model, parts.criterion, cfg.optim, data.num_labels)
    configured = module.configure_optimizers()
    optimizer = configured["optimizer"] if isinstance(configured, dict) else configured
    scheduler = configured["lr_scheduler"]["scheduler"] if isinstance(configured, dict) else None
    if hasattr(parts.criterion, "validate"):
        parts.criterion.validate = False
    loader = task.loader(data, "train", cfg, shuffle=True)
    collate = NextVisitCollator(data.num_labels)
    eval_loaders = {
        split: DataLoader(next_visit_dataset(data, split), batch_size=cfg.trainer.eval_batch_size, collate_fn=collate)
        for split in ("tuning", "held_out")
    }
    model = parts.model
    params = [p for group in optimizer.param_groups for p in group["params"]]
    clip = cfg.trainer.gradient_clip_val
    n_params = sum(p.numel() for p in model.parameters()) + sum(p.numel() for p in parts.criterion.parameters())
    reply(ready=True, parameters=n_params, rss_mb=peak_mb())
    epoch = 0
    loader.batch_sampler.set_epoch(epoch)
    batches = iter(loader)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "train":
            model.train()
            parts.criterion.train()
            done = steps = 0
            start = time.perf_counter()
            while done < cmd["predictions"]:
                try:
                    batch = next(batches)
                except StopIteration:
                    epoch += 1
                    loader.batch_sampler.set_epoch(epoch)
                    batches = iter(loader)
                    batch = next(batches)
                outputs = model(batch)
                loss = module.compute_loss(outputs, batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if clip:
                    torch.nn.utils.clip_grad_norm_(params, clip)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                done += int((batch["targets"][..., 0] != -1).sum())
                steps += 1
            reply(seconds=time.perf_counter() - start, steps=steps, predictions=done, loss=float(loss), peak_rss_mb=peak_mb())
        elif cmd["cmd"] == "predict":
            model.eval()
            chunks = []
            with torch.no_grad():
                for batch in eval_loaders[cmd["split"]]:
                    rows = task.batch_rows(module.model(batch), batch, "targets")
                    chunks.append(rows["probs"].astype(np.float32))
            np.save(cmd["out"], np.concatenate(chunks))
            reply(rows=sum(len(c) for c in chunks))
        elif cmd["cmd"] == "exit":
            reply(peak_rss_mb=peak_mb())
            return


def _config_file(name: str) -> Path:
    from clincode.demo import demo_config

    return demo_config(name)  # a YAML file or a packaged config name, as `clincode demo --config`


# ---------------------------------------------------------------------------------------------
# driver


class Worker:
    """A side's process, driven one JSON command per line."""

    def __init__(self, name: str, argv: list[str], log: Path) -> None:
        self.name = name
        self.log = open(log, "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1)
        self.ready = self.read()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("@@"):
                return json.loads(line[2:])
            self.log.write(line)
        self.log.flush()
        raise RuntimeError(f"the {self.name} worker stopped (exit {self.proc.wait()}); see {self.log.name}")

    def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> dict[str, Any]:
        out = self.ask(cmd="exit")
        self.proc.wait()
        self.log.close()
        return out


def score(probs: np.ndarray, targets: np.ndarray, history: np.ndarray | None = None) -> dict[str, float]:
    """Micro AUPRC / AUROC and P@5 of (N, V) forecasts; with ``history`` (the (N, V) repeat mask) also
    the micro AUPRC on repeat entries and on explore entries (``clincode.metrics.repeat_explore``).
    """
    from clincode.metrics.at_k import row_ranking
    from clincode.metrics.ranking import ranking_metrics
    from clincode.metrics.repeat_explore import repeat_explore

    rank = ranking_metrics(probs, targets)
    rows = row_ranking(probs, targets, ks=(5,))
    p5 = rows.weighted(np.ones((1, len(targets))))["p@5"][0]
    out = {"auprc": float(rank.auprc_micro), "auroc": float(rank.auroc_micro), "p@5": float(p5)}
    if history is not None:
        kinds = repeat_explore(probs, targets, history, ks=(5,))
        out |= {f"{kind}_auprc": kinds[kind]["auprc_micro"] for kind in ("repeat", "explore")}
    return out


def reference_rows(
    data: Any, cohort: Path, targets: dict[str, np.ndarray], names: list[str]
) -> tuple[dict[str, dict[str, Any]], np.ndarray]:
    """The one-pass forecasters ``names`` on the same held-out rows: fit on train, settings chosen on
    tuning (the driver passes the task's reference models, as ``clincode benchmark`` tables have).

    Returns (name -> held-out scores with fit and predict seconds, the held-out repeat mask). The
    forecasters read the task's label histories; their rows are checked to be the exported rows
    (same targets, same order) before anything is scored.
    """
    from clincode.api import fit_forecaster
    from clincode.tasks.next_visit.task import next_visit_histories

    histories = {split: next_visit_histories(data, split, source=cohort) for split in ("train", "tuning", "held_out")}
    for split, h in histories.items():
        if not np.array_equal(h.target_matrix(), targets[split]):
            raise RuntimeError(f"the {split} histories' rows are not the exported rows")
    history = histories["held_out"].history_mask()
    rows: dict[str, dict[str, Any]] = {}
    for name in names:
        start = time.perf_counter()
        forecaster = fit_forecaster(name, histories["train"], histories["tuning"])
        fitted = time.perf_counter()
        probs = forecaster.predict_proba(histories["held_out"])
        predicted = time.perf_counter()
        rows[name] = score(probs, targets["held_out"], history) | {"fit_seconds": fitted - start, "predict_seconds": predicted - fitted}
        print(f"{name:12s} held-out AUPRC {rows[name]['auprc']:.4f} P@5 {rows[name]['p@5']:.4f} (fit {fitted - start:.1f} s)", file=sys.stderr)
    return rows, history


def first_reaching(curve: list[dict[str, Any]], level: float) -> dict[str, Any] | None:
    return next((row for row in curve if row["test_auprc"] >= level), None)


def driver(args: argparse.Namespace) -> None:
    import torch
    from rich.console import Console

    from clincode.config import load_config
    from clincode.data.synthetic import generate_ehr_cohort
    from clincode.tasks import task_for

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ph_python = ensure_pyhealth_venv(Path(args.pyhealth_venv)) if not args.clincode_only else None
    suffix = "" if args.progression == "none" else f"-{args.progression}"
    cohort = out / f"cohort-{args.patients}-s{args.cohort_seed}{suffix}"
    if not (cohort / "metadata").exists():
        generate_ehr_cohort(
            cohort, n_patients=args.patients, n_codes=args.codes, seed=args.cohort_seed, progress=False, overwrite=True, progression=args.progression
        )
    sets = [f"data.path={cohort}", f"out_dir={out / 'work'}", "trainer.progress=false", *args.set]
    cfg = load_config(_config_file(args.config), sets)
    data = task_for(cfg).prepare(cfg, console=Console(stderr=True))
    tables = {split: data.split(split) for split in ("train", "tuning", "held_out")}
    samples: list[dict[str, Any]] = []
    index: dict[str, list[int]] = {}
    targets: dict[str, np.ndarray] = {}
    for split, table in tables.items():
        rows, labels_of_rows, _ = split_rows(table)
        index[split] = list(range(len(samples), len(samples) + len(rows)))
        samples.extend(rows)
        targets[split] = target_matrix(labels_of_rows, data.num_labels)
    export = out / "samples.pkl"
    with open(export, "wb") as f:
        pickle.dump({"samples": samples, "index": index, "num_labels": data.num_labels}, f)
    n_train = len(index["train"])
    chunk = -(-n_train // args.chunks_per_epoch)
    print(
        f"{args.patients} patients: {n_train} training, {len(index['tuning'])} tuning, {len(index['held_out'])} held-out samples; "
        f"V = {data.num_labels}; chunk = {chunk} training samples",
        file=sys.stderr,
    )
    references, history = reference_rows(data, cohort, targets, task_for(cfg).reference_models(cfg))
    params = cfg.model.params
    workers: dict[str, Worker] = {}
    cc_argv = [sys.executable, __file__, "--worker", "clincode", "--config", args.config, "--threads", str(args.threads)]
    for s in sets:
        cc_argv += ["--set", s]
    if ph_python is not None:
        ph_argv = [
            str(ph_python), str(RUNNER), str(export),
            "--embedding-dim", str(params.get("d_model", 128)), "--heads", str(params.get("n_heads", 4)),
            "--layers", str(params.get("n_layers", 2)), "--dropout", str(args.pyhealth_dropout),
            "--batch-size", str(args.pyhealth_batch_size), "--lr", str(args.pyhealth_lr),
            "--threads", str(args.threads), "--seed", str(cfg.seed),
        ]  # fmt: skip
        workers["pyhealth"] = Worker("pyhealth", ph_argv, out / "pyhealth.log")
    workers["clincode"] = Worker("clincode", cc_argv, out / "clincode.log")
    curves: dict[str, list[dict[str, Any]]] = {name: [] for name in workers}
    state = {name: {"seconds": 0.0, "steps": 0, "predictions": 0, "best_val": -1.0, "best_epoch": 0, "stopped": False} for name in workers}
    for k in range(args.epochs * args.chunks_per_epoch):
        for name, worker in workers.items():
            st = state[name]
            if st["stopped"]:
                continue
            r = worker.ask(cmd="train", predictions=chunk)
            if k == 0:  # before any evaluation: the peak of loading + training alone
                worker.ready["train_peak_rss_mb"] = r["peak_rss_mb"]
            st["seconds"] += r["seconds"]
            st["steps"] += r["steps"]
            st["predictions"] += r["predictions"]
            metrics = {}
            for split in ("tuning", "held_out"):
                path = out / f"{name}-{split}.npy"
                worker.ask(cmd="predict", split=split, out=str(path))
                metrics[split] = score(np.load(path), targets[split], history if split == "held_out" else None)
            row = {
                "side": name,
                "chunk": k + 1,
                "epoch": (k + 1) / args.chunks_per_epoch,
                "steps": st["steps"],
                "predictions": st["predictions"],
                "train_seconds": round(st["seconds"], 3),
                "loss": r["loss"],
                "val_auprc": metrics["tuning"]["auprc"],
                "test_auprc": metrics["held_out"]["auprc"],
                "test_auroc": metrics["held_out"]["auroc"],
                "test_p@5": metrics["held_out"]["p@5"],
                "test_repeat_auprc": metrics["held_out"]["repeat_auprc"],
                "test_explore_auprc": metrics["held_out"]["explore_auprc"],
            }
            curves[name].append(row)
            print(
                f"{name:9s} epoch {row['epoch']:5.2f} steps {row['steps']:6d} {row['train_seconds']:8.1f} s  "
                f"val {row['val_auprc']:.4f}  test AUPRC {row['test_auprc']:.4f} AUROC {row['test_auroc']:.4f} P@5 {row['test_p@5']:.4f}",
                file=sys.stderr,
            )
            if (k + 1) % args.chunks_per_epoch == 0:  # early stopping at epoch ends, on the tuning split
                epoch = (k + 1) // args.chunks_per_epoch
                if row["val_auprc"] > st["best_val"]:
                    st["best_val"], st["best_epoch"] = row["val_auprc"], epoch
                elif epoch - st["best_epoch"] >= args.patience:
                    st["stopped"] = True
        if all(st["stopped"] for st in state.values()):
            break
    memory = {
        name: {"ready_rss_mb": w.ready["rss_mb"], "train_peak_rss_mb": w.ready["train_peak_rss_mb"], **w.close()}
        for name, w in workers.items()
    }
    with open(out / "curves.csv", "w", newline="") as f:
        fields = list(next(iter(curves.values()))[0])
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for rows in curves.values():
            writer.writerows(rows)
    summary = summarise(curves, state, memory, workers, args, n_train, cfg)
    summary["samples"] = {split: len(ix) for split, ix in index.items()}
    summary["references"] = references
    summary["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__, "threads": args.threads}
    summary["load_avg_end"] = os.getloadavg()
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "summary.md").write_text(markdown(summary))
    plot_curves(out / "curves.csv", out / "curves.png")
    print(markdown(summary))


def plot_curves(curves_csv: Path, out: Path) -> None:
    """Held-out micro AUPRC against training seconds and against optimiser steps, one line per side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(curves_csv) as f:
        rows = list(csv.DictReader(f))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for side in dict.fromkeys(r["side"] for r in rows):
        mine = [r for r in rows if r["side"] == side]
        for ax, key in zip(axes, ("train_seconds", "steps"), strict=True):
            ax.plot([float(r[key]) for r in mine], [float(r["test_auprc"]) for r in mine], marker=".", label=side)
    for ax, label in zip(axes, ("training seconds (same machine, interleaved)", "optimiser steps"), strict=True):
        ax.set_xlabel(label)
        ax.set_ylabel("held-out micro AUPRC")
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def at_epoch_end(curve: list[dict[str, Any]], epoch: int, per_epoch: int) -> dict[str, Any]:
    return curve[epoch * per_epoch - 1]


def summarise(curves, state, memory, workers, args, n_train, cfg) -> dict[str, Any]:
    out: dict[str, Any] = {"config": args.config, "overrides": args.set, "chunks_per_epoch": args.chunks_per_epoch, "sides": {}}
    for name, curve in curves.items():
        ends = [row for row in curve if float(row["epoch"]).is_integer()]
        best = at_epoch_end(curve, state[name]["best_epoch"], args.chunks_per_epoch) if state[name]["best_epoch"] else curve[-1]
        out["sides"][name] = {
            "parameters": workers[name].ready["parameters"],
            "best_epoch_by_val": state[name]["best_epoch"],
            "at_best_val": best,
            "max_test_auprc_at_epoch_end": max(row["test_auprc"] for row in ends) if ends else None,
            "epochs_run": curve[-1]["epoch"],
            "predictions_per_step": curve[-1]["predictions"] / max(curve[-1]["steps"], 1),
            "seconds_per_epoch": curve[-1]["train_seconds"] / curve[-1]["epoch"],
            "memory": memory[name],
        }
    if "pyhealth" in curves:
        ph, cc = out["sides"]["pyhealth"], out["sides"]["clincode"]
        level = ph["max_test_auprc_at_epoch_end"]
        ph_first = first_reaching([r for r in curves["pyhealth"] if float(r["epoch"]).is_integer()], level)
        cc_first = first_reaching(curves["clincode"], level)
        out["target_time"] = {
            "pyhealth_best_test_auprc": level,
            "pyhealth_seconds_to_it": ph_first["train_seconds"] if ph_first else None,
            "clincode_seconds_to_it": cc_first["train_seconds"] if cc_first else None,
            "ratio": (cc_first["train_seconds"] / ph_first["train_seconds"]) if (cc_first and ph_first) else None,
        }
        out["at_convergence"] = {
            key: {"clincode": cc["at_best_val"][key], "pyhealth": ph["at_best_val"][key]}
            for key in ("test_auprc", "test_auroc", "test_p@5", "epoch", "train_seconds")
        }
    return out


def _kind(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def markdown(s: dict[str, Any]) -> str:
    lines = [
        f"samples: {s.get('samples')}; machine: {s.get('machine')}; load average at the end {tuple(round(x, 1) for x in s.get('load_avg_end', ()))}",
        "",
        "| side | parameters | predictions / step | s / epoch | best epoch (val) | test AUPRC | AUROC | P@5 | repeat AUPRC | explore AUPRC "
        "| peak RSS MB: ready / first chunk of training / whole run |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, side in s["sides"].items():
        b = side["at_best_val"]
        lines.append(
            f"| {name} | {side['parameters']:,} | {side['predictions_per_step']:.1f} | {side['seconds_per_epoch']:.1f} | "
            f"{side['best_epoch_by_val']} | {b['test_auprc']:.4f} | {b['test_auroc']:.4f} | {b['test_p@5']:.4f} | "
            f"{_kind(b.get('test_repeat_auprc'))} | {_kind(b.get('test_explore_auprc'))} | "
            f"{side['memory']['ready_rss_mb']:.0f} / {side['memory']['train_peak_rss_mb']:.0f} / {side['memory']['peak_rss_mb']:.0f} |"
        )
    for name, ref in s.get("references", {}).items():
        lines.append(
            f"| {name} (one pass: fit {ref['fit_seconds']:.1f} s, predict {ref['predict_seconds']:.1f} s) | - | - | - | - | "
            f"{ref['auprc']:.4f} | {ref['auroc']:.4f} | {ref['p@5']:.4f} | {_kind(ref.get('repeat_auprc'))} | {_kind(ref.get('explore_auprc'))} | - |"
        )
    if "target_time" in s:
        t = s["target_time"]
        cc = f"{t['clincode_seconds_to_it']:.1f} s" if t["clincode_seconds_to_it"] is not None else "not reached"
        ratio = f"{t['ratio']:.3f}" if t["ratio"] is not None else "-"
        lines += [
            "",
            f"PyHealth's best held-out micro AUPRC {t['pyhealth_best_test_auprc']:.4f}, reached after {t['pyhealth_seconds_to_it']:.1f} s "
            f"of training; clincode reaches it after {cc} (ratio {ratio}).",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", choices=["clincode"], help=argparse.SUPPRESS)
    ap.add_argument("--patients", type=int, default=4000)
    ap.add_argument("--codes", type=int, default=2000)
    ap.add_argument("--cohort-seed", type=int, default=0)
    ap.add_argument("--progression", choices=["none", "clinical"], default="none", help="the synthetic cohort's disease progression")
    ap.add_argument("--config", default="next_visit", help="a packaged config name or a YAML file")
    ap.add_argument("--set", action="append", default=[], help="clincode config override KEY=VALUE (repeatable)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--chunks-per-epoch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pyhealth-venv", default="benchmarks-out/pyhealth-venv")
    ap.add_argument("--pyhealth-dropout", type=float, default=0.5)
    ap.add_argument("--pyhealth-batch-size", type=int, default=64)
    ap.add_argument("--pyhealth-lr", type=float, default=1e-3)
    ap.add_argument("--clincode-only", action="store_true", help="no PyHealth side (to try clincode settings)")
    ap.add_argument("--out", default="benchmarks-out/pyhealth")
    ap.add_argument("--replot", metavar="DIR", help="only redraw DIR/curves.png from DIR/curves.csv")
    args = ap.parse_args()
    if args.replot:
        plot_curves(Path(args.replot) / "curves.csv", Path(args.replot) / "curves.png")
    elif args.worker == "clincode":
        clincode_worker(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
