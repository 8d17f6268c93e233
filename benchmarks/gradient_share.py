"""Where the gradient of the dependency-aware loss goes (docs/results.md, dependency-objectives part).

    python benchmarks/gradient_share.py COHORT [--bce-steps 300] [--batches 8] [--num-labels 1538] [--seed 0]

COHORT is a synthetic cohort (`clincode synth ehr`, any `--density`). The script prepares its
next-visit task with the demo config (V = 1,538), builds the demo EHR Transformer and Ho et al.'s
loss at the paper setting (`dependency_aware`: alpha_neg 25, lambda 10, dense W at its kaiming
initialisation), and measures on fixed training batches (model in eval mode, no dropout), first at
initialisation and then after ``--bce-steps`` AdamW steps of bce (the demo's learning rate and
weight decay; W is not trained by bce, so it stays at its initialisation):

- logits: the share of the L1 norm of dL/dx on positive and on negative entries, for each term of
  the row loss ``L_row = 1 - C + lambda I`` separately (the rank-weighted correctness ``1 - C`` and
  the dependency term ``lambda I = lambda (1 - sigmoid(v^T W v / K))``, docs/methods.md section
  1.3), each by its own ``torch.autograd.grad``; the mean |gradient| of one positive over that of
  one negative; and the share of the L1 norm that pushes entries towards their correct side
  (a positive up, a negative down, under gradient descent);
- W: how much of the L1 norm of dL/dW_raw (upper triangle, label pairs) falls on the generator's
  truly coupled pairs (``true_dependency.parquet``, mapped to label indices as `clincode audit`
  does) and on pairs positive together in a row of the batch, against their share of all pairs;
  the sign of dL/dW (negative: a descent step makes that entry of W larger), the share of
  entries whose |gradient| exceeds AdamW's eps (1e-8), for which Adam's step size does not depend
  on the gradient's size, and that step size per unit learning rate, |mean| / RMS of each entry's
  gradient over the measured batches (:class:`PairMoments`), on true pairs and on the others.

The two terms are computed in plain autograd from the loss's public pieces; their sum is checked
against the gradient of the packaged loss (the largest deviation is printed).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

import polars as pl
import torch
from torch import Tensor

from clincode.losses import DenseForm, dependency_aware_loss, rank_weights
from clincode.losses.dependency import weighted_correctness

ADAM_EPS = 1e-8  # torch.optim.AdamW's default, which clincode's trainer uses


@dataclass
class GradientSums:
    """Sums over the measured batches; :meth:`shares` turns them into the printed ratios."""

    rows: float = 0.0
    positives: float = 0.0  # valid positive entries
    negatives: float = 0.0
    rank_pos: float = 0.0  # L1 of d(1 - C)/dx on positive entries
    rank_neg: float = 0.0
    dep_pos: float = 0.0  # L1 of d(lambda I)/dx
    dep_neg: float = 0.0
    total_pos: float = 0.0  # L1 of the whole loss's dL/dx
    total_neg: float = 0.0
    rank_correct: float = 0.0  # L1 of the part pushing entries to their correct side
    dep_correct: float = 0.0
    total_correct: float = 0.0
    pairs: float = 0.0  # label pairs a < b (per batch, summed)
    true_pairs: float = 0.0
    copos_pairs: float = 0.0  # pairs positive together in some row of the batch
    w_l1: float = 0.0  # L1 of dL/dW_raw over the upper triangle
    w_l1_true: float = 0.0
    w_l1_copos: float = 0.0
    w_negative: float = 0.0  # entries with dL/dW < 0 (a descent step increases W)
    w_positive: float = 0.0
    w_signed: float = 0.0  # sum of dL/dW
    w_above_eps: float = 0.0  # entries with |dL/dW| > ADAM_EPS

    def __add__(self, other: GradientSums) -> GradientSums:
        return GradientSums(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def shares(self) -> dict[str, float]:
        def ratio(a: float, b: float) -> float:
            return a / b if b > 0 else float("nan")

        rank, dep, total = self.rank_pos + self.rank_neg, self.dep_pos + self.dep_neg, self.total_pos + self.total_neg
        return {
            "positives_per_row": ratio(self.positives, self.rows),
            "rank_of_terms": ratio(rank, rank + dep),  # the rank term's share of the two terms' L1
            "dep_of_terms": ratio(dep, rank + dep),
            "rank_on_pos": ratio(self.rank_pos, rank),
            "dep_on_pos": ratio(self.dep_pos, dep),
            "total_on_pos": ratio(self.total_pos, total),
            "rank_pos_per_neg": ratio(ratio(self.rank_pos, self.positives), ratio(self.rank_neg, self.negatives)),
            "dep_pos_per_neg": ratio(ratio(self.dep_pos, self.positives), ratio(self.dep_neg, self.negatives)),
            "total_pos_per_neg": ratio(ratio(self.total_pos, self.positives), ratio(self.total_neg, self.negatives)),
            "rank_correct": ratio(self.rank_correct, rank),
            "dep_correct": ratio(self.dep_correct, dep),
            "total_correct": ratio(self.total_correct, total),
            "w_on_true": ratio(self.w_l1_true, self.w_l1),
            "true_of_pairs": ratio(self.true_pairs, self.pairs),
            "w_on_copos": ratio(self.w_l1_copos, self.w_l1),
            "copos_of_pairs": ratio(self.copos_pairs, self.pairs),
            "w_negative": ratio(self.w_negative, self.pairs),
            "w_positive": ratio(self.w_positive, self.pairs),
            "w_net_up": ratio(-self.w_signed, self.w_l1),  # +1: every entry pushed up by descent
            "w_above_eps": ratio(self.w_above_eps, self.pairs),
        }


class PairMoments:
    """Per label pair (upper triangle), the sum and the sum of squares of dL/dW over batches.

    ``|mean| / RMS`` is the size of Adam's step per unit learning rate once both of its moment
    averages span these batches: 1 for an entry whose gradient has the same sign and size at every
    step, however small; below 1 for an entry that gets large gradients in a few batches only.
    """

    def __init__(self, n_pairs: int) -> None:
        self.s1 = torch.zeros(n_pairs, dtype=torch.float64)
        self.s2 = torch.zeros(n_pairs, dtype=torch.float64)
        self.batches = 0

    def add(self, g: Tensor) -> None:
        self.s1 += g
        self.s2 += g * g
        self.batches += 1

    def adam_step(self) -> Tensor:
        """[n_pairs] |mean g| / RMS g (0 where the gradient was always 0)."""
        n = max(self.batches, 1)
        rms = (self.s2 / n).sqrt()
        return torch.where(rms > 0, (self.s1 / n).abs() / rms.clamp_min(1e-300), torch.zeros_like(rms))


def term_gradients(
    logits: Tensor, targets: Tensor, w_raw: Tensor, *, alpha_neg: float = 25.0, lam: float = 10.0, eps: float = 1e-6
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Per-term gradients of Ho et al.'s loss on the rows with a valid label.

    Returns (x, t, g_rank, g_dep, g_w): the kept rows' logits [R, V] and targets, d(mean(1 - C))/dx,
    d(lambda mean(I))/dx (both [R, V]) and d(lambda mean(I))/dW_raw [V, V] (the rank term does not
    involve W). The loss is their sum: ``mean over rows of 1 - C + lambda I``.
    """
    v_dim = logits.shape[-1]
    x = logits.detach().reshape(-1, v_dim).to(torch.float32)
    t = targets.reshape(-1, v_dim).to(torch.float32)
    keep = (t != -1).any(dim=1)
    x, t = x[keep].clone().requires_grad_(True), t[keep]
    y, m = (t == 1).to(x.dtype), (t != -1).to(x.dtype)
    w_raw = w_raw.detach().to(torch.float32).clone().requires_grad_(True)
    v = weighted_correctness(x, y, m, alpha_neg, eps)  # c * class weight, 0 where ignored
    omega = rank_weights(v.detach(), m != 0)  # dC/dv; no gradient flows through the sort
    c_row = (omega * v).sum(dim=1)
    k = m.sum(dim=1)
    w = _symmetric(w_raw)
    q = ((v @ w) * v).sum(dim=1)
    rank_term = (1.0 - c_row).mean()
    dep_term = lam * torch.sigmoid(-q / k).mean()
    (g_rank,) = torch.autograd.grad(rank_term, x, retain_graph=True)
    g_dep, g_w = torch.autograd.grad(dep_term, (x, w_raw))
    return x.detach(), t, g_rank, g_dep, g_w


def _symmetric(w_raw: Tensor) -> Tensor:
    """(W_raw + W_raw^T) / 2 with a zero diagonal (the loss's symmetric_zero_diagonal, out of place)."""
    w = (w_raw + w_raw.mT) * 0.5
    return w * (1.0 - torch.eye(w.shape[0], dtype=w.dtype, device=w.device))


def copositive_pairs(t: Tensor) -> Tensor:
    """bool [V, V]: labels positive together in at least one row of ``t`` [R, V] (diagonal False)."""
    y = (t == 1).to(torch.float32)
    out = (y.T @ y) > 0
    out.fill_diagonal_(False)
    return out


def gradient_sums(
    logits: Tensor, targets: Tensor, w_raw: Tensor, truth: Tensor, *, alpha_neg: float = 25.0, lam: float = 10.0,
    eps: float = 1e-6, moments: PairMoments | None = None,
) -> GradientSums:  # fmt: skip
    """The sums of :class:`GradientSums` for one batch. ``truth``: bool [V, V], truly coupled pairs;
    ``moments``, if given, accumulates this batch's dL/dW (upper triangle).
    """
    x, t, g_rank, g_dep, g_w = term_gradients(logits, targets, w_raw, alpha_neg=alpha_neg, lam=lam, eps=eps)
    pos, neg = t == 1, t == 0
    g_total = g_rank + g_dep

    def correct(g: Tensor) -> float:
        # descent moves x by -g: a positive goes up (its correct side) when g < 0, a negative down when g > 0
        return float(g.abs()[pos & (g < 0) | neg & (g > 0)].sum())

    iu = torch.triu_indices(w_raw.shape[0], w_raw.shape[0], offset=1)
    gw = g_w[iu[0], iu[1]].double()
    true_u = truth[iu[0], iu[1]]
    copos_u = copositive_pairs(t)[iu[0], iu[1]]
    if moments is not None:
        moments.add(gw)
    return GradientSums(
        rows=float(x.shape[0]),
        positives=float(pos.sum()),
        negatives=float(neg.sum()),
        rank_pos=float(g_rank.abs()[pos].sum()),
        rank_neg=float(g_rank.abs()[neg].sum()),
        dep_pos=float(g_dep.abs()[pos].sum()),
        dep_neg=float(g_dep.abs()[neg].sum()),
        total_pos=float(g_total.abs()[pos].sum()),
        total_neg=float(g_total.abs()[neg].sum()),
        rank_correct=correct(g_rank),
        dep_correct=correct(g_dep),
        total_correct=correct(g_total),
        pairs=float(gw.numel()),
        true_pairs=float(true_u.sum()),
        copos_pairs=float(copos_u.sum()),
        w_l1=float(gw.abs().sum()),
        w_l1_true=float(gw.abs()[true_u].sum()),
        w_l1_copos=float(gw.abs()[copos_u].sum()),
        w_negative=float((gw < 0).sum()),
        w_positive=float((gw > 0).sum()),
        w_signed=float(gw.sum()),
        w_above_eps=float((gw.abs() > ADAM_EPS).sum()),
    )


def packaged_deviation(logits: Tensor, targets: Tensor, w_raw: Tensor, **kw: float) -> float:
    """Largest |difference| between the two terms' summed logit gradient and the packaged loss's,
    relative to the largest entry of the latter.
    """
    _, _, g_rank, g_dep, _ = term_gradients(logits, targets, w_raw, **kw)
    x = logits.detach().reshape(-1, logits.shape[-1]).to(torch.float32)
    t = targets.reshape(-1, logits.shape[-1])
    x = x[(t != -1).any(dim=1)].clone().requires_grad_(True)
    t = t[(t != -1).any(dim=1)]
    (g,) = torch.autograd.grad(dependency_aware_loss(x, t, DenseForm(w_raw.detach()), **kw), x)
    return float((g - (g_rank + g_dep)).abs().max() / g.abs().max())


# ---------------------------------------------------------------------------------------- the run
@dataclass
class Measurement:
    sums: GradientSums
    adam_true: float  # mean |mean g| / RMS g over the truly coupled pairs
    adam_other: float  # ... over the other pairs
    adam_auroc: float  # AUROC of that step size for separating true pairs from the others


def measure(model: torch.nn.Module, batches: list[dict], w_raw: Tensor, truth: Tensor) -> Measurement:
    from sklearn.metrics import roc_auc_score

    model.eval()
    total = GradientSums()
    v_dim = w_raw.shape[0]
    moments = PairMoments(v_dim * (v_dim - 1) // 2)
    with torch.no_grad():
        outputs = [model(b) for b in batches]
    for b, logits in zip(batches, outputs, strict=True):
        total = total + gradient_sums(logits, b["targets"], w_raw, truth, moments=moments)
    iu = torch.triu_indices(v_dim, v_dim, offset=1)
    true_u = truth[iu[0], iu[1]]
    step = moments.adam_step()
    auroc = float(roc_auc_score(true_u.numpy(), step.numpy())) if 0 < int(true_u.sum()) < true_u.numel() else float("nan")
    return Measurement(total, float(step[true_u].mean()), float(step[~true_u].mean()), auroc)


def print_tables(results: list[tuple[str, Measurement]]) -> None:
    print("\n| state | term | share of the terms' L1 | L1 on positives | on negatives | per positive / per negative | towards correct side |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for state, m in results:
        s = m.sums.shares()
        for term, label in (("rank", "1 - C (rank-weighted correctness)"), ("dep", "lambda I (dependency)"), ("total", "whole loss")):
            part = "" if term == "total" else f"{s[f'{term}_of_terms']:.3f}"
            print(
                f"| {state} | {label} | {part} | {s[f'{term}_on_pos']:.3f} | {1 - s[f'{term}_on_pos']:.3f} | "
                f"{s[f'{term}_pos_per_neg']:.3g} | {s[f'{term}_correct']:.3f} |"
            )
    print(
        "\n| state | L1 of dL/dW on true pairs | true pairs' share of pairs | on pairs positive together in a row "
        "| their share of pairs | entries dL/dW < 0 | > 0 | net push up | abs(dL/dW) > Adam eps "
        "| Adam step, true pairs | other pairs | AUROC of the step for true pairs |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for state, m in results:
        s = m.sums.shares()
        print(
            f"| {state} | {s['w_on_true']:.3f} | {s['true_of_pairs']:.4f} | {s['w_on_copos']:.3f} | {s['copos_of_pairs']:.2e} | "
            f"{s['w_negative']:.4f} | {s['w_positive']:.4f} | {s['w_net_up']:+.4f} | {s['w_above_eps']:.4f} | "
            f"{m.adam_true:.3f} | {m.adam_other:.3f} | {m.adam_auroc:.3f} |"
        )


def main() -> None:
    from rich.console import Console

    from clincode.audit.dependency import true_pair_matrix
    from clincode.config import load_config
    from clincode.losses import DependencyAwareLoss, build_loss
    from clincode.models import build_model
    from clincode.resources import config_path
    from clincode.tasks import task_for

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cohort", type=Path, help="a synthetic cohort (clincode synth ehr)")
    ap.add_argument("--bce-steps", type=int, default=300, help="bce training steps before the second measurement")
    ap.add_argument("--batches", type=int, default=8, help="training batches measured (fixed, the same at both states)")
    ap.add_argument("--num-labels", type=int, default=1538, help="label space size V (data.params.num_labels)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    console = Console(stderr=True, quiet=True)
    truth_file = args.cohort / "metadata" / "true_dependency.parquet"
    if not truth_file.is_file():
        raise SystemExit(f"{truth_file} not found: give a synthetic cohort written by `clincode synth ehr`")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(
            config_path("demo"),
            [f"data.path={args.cohort}", f"out_dir={tmp}/runs", "trainer.progress=false", f"seed={args.seed}",
             f"data.params.num_labels={args.num_labels}"],  # fmt: skip
        )
        task = task_for(cfg)
        data = task.prepare(cfg, console=console)
        codes = list(data.label_space.codes_)
        truth = torch.from_numpy(true_pair_matrix(codes, pl.read_parquet(truth_file)))
        measured = []  # the first batches of the first (shuffled) training epoch
        for b in task.loader(data, "train", cfg, shuffle=True):
            measured.append(b)
            if len(measured) == args.batches:
                break
        torch.manual_seed(args.seed)
        model = build_model(cfg.model.name, vocab_size=len(data.vocab), num_labels=data.num_labels, params=cfg.model.params)
        loss = DependencyAwareLoss(data.num_labels)  # paper setting: alpha_neg 25, lambda 10, dense kaiming W
        w_raw = loss.w_raw.detach()
        model.eval()
        with torch.no_grad():
            first_logits = model(measured[0])
        deviation = packaged_deviation(first_logits, measured[0]["targets"], w_raw)
        results = [("initialisation", measure(model, measured, w_raw, truth))]

        bce = build_loss("bce", data.num_labels)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
        loader = task.loader(data, "train", cfg, shuffle=True)
        steps, epoch = 0, 0
        model.train()
        while steps < args.bce_steps:
            loader.batch_sampler.set_epoch(epoch)  # type: ignore[union-attr]
            for b in loader:
                value = bce(model(b), b["targets"])
                opt.zero_grad(set_to_none=True)
                value.backward()
                opt.step()
                steps += 1
                if steps == args.bce_steps:
                    break
            epoch += 1
        if steps:
            results.append((f"after {steps} bce steps", measure(model, measured, w_raw, truth)))

    first = results[0][1].sums.shares()
    print(
        f"# {args.cohort.name}: V = {data.num_labels}, {args.batches} training batches of {cfg.trainer.batch_size} patients "
        f"({int(results[0][1].sums.rows):,} target rows, {first['positives_per_row']:.2f} positives per row), "
        f"{int(truth.sum()) // 2:,} truly coupled label pairs; dependency_aware at alpha_neg 25, lambda 10, "
        f"W at its kaiming initialisation; seed {args.seed}; "
        f"terms' sum vs packaged loss gradient: max relative deviation {deviation:.1e}"
    )
    print_tables(results)


if __name__ == "__main__":
    main()
