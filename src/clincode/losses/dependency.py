"""Dependency-aware ranking loss (Ho et al. 2026, CHIL; docs/methods.md section 1.3)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from .base import LossModule
from .inputs import compute_dtype, signs
from .quadratic import (
    DenseForm,
    DependencyForm,
    LowRankForm,
    Workspace,
    lowrank_matrix,
    symmetric_zero_diagonal,
)
from .ranking import descending_ranks
from .reduction import masked_mean
from .registry import LOSSES
from .rowwise import rowdot, rowsum

Mode = Literal["dense", "lowrank"]
MODES = ("dense", "lowrank")
Init = Literal["kaiming", "zeros"]
INITS = ("kaiming", "zeros")
DEFAULT_LAMBDA = 10.0


def resolve_lambda(lam: float, lambda_reg: float | None) -> float:
    """``lam``, or the authors' name for it, ``lambda_reg``, when that is given.

    Giving both with different values is an error (``lam`` at its default counts as not given).
    """
    if lambda_reg is None:
        return lam
    if lam != DEFAULT_LAMBDA and lam != lambda_reg:
        raise ValueError(f"lam={lam!r} and lambda_reg={lambda_reg!r} name the same weight; give one of them")
    return lambda_reg


def class_weights(y: Tensor, m: Tensor, alpha_neg: float, eps: float) -> tuple[Tensor, Tensor]:
    """(w_pos, w_neg), 0-d tensors, from the whole mini-batch (global counts over valid entries).

    ``w_pos = N / (P + eps)``, ``w_neg = alpha_neg * P / (N + eps)`` with P positives and N
    negatives among all valid entries of the batch (not per code).
    """
    n_pos = y.sum()
    n_neg = m.sum() - n_pos
    return n_neg / (n_pos + eps), alpha_neg * n_pos / (n_neg + eps)


def weighted_correctness(x: Tensor, y: Tensor, m: Tensor, alpha_neg: float, eps: float) -> Tensor:
    """v [R, V]: correctness c (p for a positive, 1 - p for a negative) times its class weight.

    Reference form (plain autograd); the loss itself computes the same values inside
    ``_DependencyTerms``. ``y``, ``m``: float masks [R, V] (see ``inputs.prepare``).
    """
    w_pos, w_neg = class_weights(y, m, alpha_neg, eps)
    c = torch.sigmoid(x * signs(y))  # = 1 - |p - y|, exact in both tails
    return c * (m * w_neg + y * (w_pos - w_neg))


class _DependencyTerms(torch.autograd.Function):
    """Per row: C (ordered weighted average of v), q = v^T W v and K, from logits, in one Function.

    Forward, with v = c * coef, c = sigmoid(s x), s = +1 / -1 for a positive / negative:
    computes v, dv/dx = s coef c (1 - c), the ranks, C and q. Everything is derived from the
    float targets t in {1, 0, -1} with in-place passes over three [R, V] buffers: on the CPU,
    every fresh large buffer costs page faults, and autograd would keep about a dozen.
    Backward: dL/dx = (gC * omega + dL/dv from the form) * dv/dx, in place.

    c is formed as 1 - sigmoid(-s x) (two passes instead of four), which is docs/methods.md's
    ``1 - |p - y|`` up to float rounding: below c ~ 1e-7 (float32) it rounds to 0, where its
    gradient is below 1e-7 of the largest anyway.
    """

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        x: Tensor,
        t: Tensor,
        form: DependencyForm,
        alpha_neg: float,
        eps: float,
        *params: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """x: logits [R, V]; t: a float copy of the targets, [R, V], consumed (overwritten)."""
        rows, num_labels = x.shape
        # Counts from two reductions, no masks: per row, sum(t) = P - I and sum(t^2) = P + I
        # (P positives, I ignored). Totals in float64: R V can exceed float32's exact integers.
        s1, s2 = rowsum(t), rowdot(t, t)
        pos_r, ign_r = (s2 + s1) * 0.5, (s2 - s1) * 0.5
        k = num_labels - ign_r  # (R,), valid labels per row
        n_pos = pos_r.double().sum()
        n_neg = k.double().sum() - n_pos
        w_pos = n_neg / (n_pos + eps)
        w_neg = alpha_neg * n_pos / (n_neg + eps)
        # coef(t) = w_pos, w_neg, 0 for t = 1, 0, -1 and s(t) coef(t) = w_pos, -w_neg, 0 are the
        # quadratics (1 + t)(a + b t) through those points: exactly 0 on ignored entries
        dt = x.dtype
        v = torch.addcmul(w_neg.to(dt), t, (w_pos / 2 - w_neg).to(dt))
        v.addcmul_(v, t)  # coef
        dv_dx = torch.addcmul((-w_neg).to(dt), t, (w_pos / 2 + w_neg).to(dt))
        dv_dx.addcmul_(dv_dx, t)  # s * coef
        # 1 - c = sigmoid(-s x) = sigmoid(x - 2 t x), in t's buffer: two passes
        not_c = torch.addcmul(x, t, x, value=-2.0, out=t).sigmoid_()
        torch.ops.aten.sigmoid_backward.grad_input(dv_dx, not_c, grad_input=dv_dx)  # s coef c (1 - c)
        v.addcmul_(v, not_c, value=-1.0)  # v = coef (1 - (1 - c)) = coef * c; exactly 0 where ignored
        # Ignored entries need no special place in the sort: their v is exactly 0, the smallest
        # value, so every non-zero valid entry still gets its exact rank among the valid ones;
        # and wherever v = 0 (ignored, zero weight, or c underflowed to 0) dv/dx = 0 as well,
        # so the rank given to such an entry never reaches a gradient (C gets 0 from it anyway).
        ranks, spent = descending_ranks(v, None, out=not_c)  # its buffer is free: the ranks go there
        scale = 2.0 / (k * (k + 1.0)).clamp_min(1.0)  # omega = ranks * scale on valid entries
        c_row = rowdot(v, ranks) * scale  # (R,); ignored entries have v = 0
        work = Workspace.from_spent(spent, v)  # the sort keys' memory, for the form's buffers
        q, saved = form.forward(v, params, work)
        ctx.form = form  # type: ignore[attr-defined]  # autograd's ctx carries the attributes set in forward
        ctx.counts = (len(params), len(saved))  # type: ignore[attr-defined]  # autograd's ctx carries the attributes set in forward
        ctx.spare = work.free  # type: ignore[attr-defined]  # plain buffers, no version check wanted
        ctx.save_for_backward(v, dv_dx, ranks, scale, *params, *saved)
        ctx.mark_non_differentiable(k)
        return c_row, q, k

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad_c: Tensor, grad_q: Tensor, grad_k: Tensor | None
    ) -> tuple[Tensor | None, ...]:
        tensors = ctx.saved_tensors  # type: ignore[attr-defined]  # autograd's ctx carries the attributes set in forward
        v, dv_dx, ranks, scale = tensors[:4]
        n_params, n_saved = ctx.counts  # type: ignore[attr-defined]  # autograd's ctx carries the attributes set in forward
        params = tuple(tensors[4 : 4 + n_params])
        saved = tuple(tensors[4 + n_params : 4 + n_params + n_saved])
        # the spare buffers serve the first backward only: a second one (retain_graph) must not
        # overwrite the gradient the first returned
        spare, ctx.spare = ctx.spare, []  # type: ignore[attr-defined]  # autograd's ctx carries the attributes set in forward
        work = Workspace(v, spare)
        grad_v, grad_params = ctx.form.backward(v, saved, grad_q, params, work)  # type: ignore[attr-defined]  # autograd's ctx carries the attributes set in forward
        grad_v.addcmul_(ranks, (grad_c * scale).unsqueeze(1))  # dC/dv = omega
        grad_x = grad_v.mul_(dv_dx) if ctx.needs_input_grad[0] else None  # type: ignore[attr-defined]  # autograd's ctx carries the attributes set in forward
        return (grad_x, None, None, None, None, *grad_params)


def dependency_aware_loss(
    logits: Tensor,
    targets: Tensor,
    form: DependencyForm,
    alpha_neg: float = 25.0,
    lam: float = 10.0,
    eps: float = 1e-6,
    loss_scale: float = 1.0,
) -> Tensor:
    """Ho et al.'s loss: mean over rows with a valid label of ``1 - C + lam * (1 - sigmoid(v^T W v / K))``.

    Args:
        logits, targets: [..., V]; targets in {1, 0, -1}. Leading dims are flattened to R rows;
            the class weights use the counts of all of them.
        form: W and its quadratic form (``DenseForm(w_raw)`` or ``LowRankForm(factors)``).
        alpha_neg: weight of negatives relative to the balanced weight (paper: 25).
        lam: weight of the dependency term (paper: 10).
        eps: in the class weights (1e-6 in the authors' code).
        loss_scale: multiplies the result.

    v = c * class weight (see :func:`weighted_correctness`); C is the ordered weighted average
    of the row's K valid values of v (see ``ranking``); the dependency term is
    ``I = 1 - sigmoid(v^T W v / K)``. Rows with no valid label are skipped; with none at all the
    result is a differentiable zero.
    """
    num_labels = logits.shape[-1]
    dtype = compute_dtype(logits.dtype)
    x = logits.reshape(-1, num_labels).to(dtype)
    t = targets.reshape(-1, num_labels).to(dtype, copy=True)  # consumed by _DependencyTerms
    # Rows with no valid label (padded visits of [B, T, V] batches, often half the rows) add
    # nothing to the class counts nor to the mean: drop them before the (R x V x V) products.
    keep = (t != -1).any(dim=1)
    n_keep = int(keep.sum())
    if 0 < n_keep < keep.numel():
        x, t = x[keep], t[keep]
    c_row, q, k = _DependencyTerms.apply(x, t, form, alpha_neg, eps, *form.params())
    row = 1.0 - c_row + lam * torch.sigmoid(-q / k.clamp_min(1.0))  # 1 - sigmoid(raw) = sigmoid(-raw)
    return loss_scale * masked_mean(row, k.clamp_max(1.0))  # rows with K = 0 are skipped


@LOSSES.register("dependency_aware")
class DependencyAwareLoss(LossModule):
    """Dependency-aware ranking loss of Ho et al. 2026: alpha_neg 25, lambda 10, learned symmetric W.

    W belongs to the loss: hand ``loss.parameters()`` to the optimizer with the model's, and it is
    saved in ``state_dict()``. Modes:

    * ``"dense"`` (default, the paper's form): ``W = (W_raw + W_raw^T) / 2``, zero diagonal,
      W_raw [V, V] initialised like nn.Linear's weight. Two (R x V x V) products per step.
    * ``"lowrank"`` [ours]: ``W = (A B^T + B A^T) / 2`` with zero diagonal, A, B [V, rank]
      (one parameter ``factors`` = [A | B], [V, 2 rank]; rank 32 by default [ours]), initialised
      so that W's entries have the dense initialisation's variance. O(R V rank)
      per step, so V = 10,000 and beyond are cheap; W is never formed during training.

    ``lambda_reg`` is the authors' name for ``lam`` (either may be given). ``init`` is W's
    initialisation in dense mode: ``"kaiming"`` (default, nn.Linear's) or ``"zeros"`` (the authors'
    other option; a zero W starts the dependency term at lambda / 2 with a zero gradient for the model).

    The loss uses no training statistics (its class weights are per mini-batch); ``fit`` is a no-op.
    """

    def __init__(
        self,
        num_labels: int,
        alpha_neg: float = 25.0,
        lam: float = 10.0,
        eps: float = 1e-6,
        loss_scale: float = 1.0,
        mode: Mode = "dense",
        rank: int = 32,
        init: Init = "kaiming",
        lambda_reg: float | None = None,
    ) -> None:
        super().__init__(num_labels)
        lam = resolve_lambda(lam, lambda_reg)
        if init not in INITS:
            raise ValueError(f"init must be one of {', '.join(map(repr, INITS))}, got {init!r}")
        if init == "zeros" and mode == "lowrank":
            raise ValueError(
                "init='zeros' needs mode='dense': with both low-rank factors at zero, W's gradient is zero and W never moves"
            )
        for name, value in (("alpha_neg", alpha_neg), ("lam", lam), ("eps", eps), ("loss_scale", loss_scale)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ValueError(f"rank must be an int >= 1, got {rank!r}")
        self.alpha_neg, self.lam, self.eps = float(alpha_neg), float(lam), float(eps)
        self.loss_scale = float(loss_scale)
        self.mode: Mode = mode
        self.rank = rank
        self.init: Init = init
        if mode == "dense":
            self.w_raw = nn.Parameter(torch.empty(num_labels, num_labels))
        else:
            self.factors = nn.Parameter(torch.empty(num_labels, 2 * rank))  # [A | B]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Dense: kaiming_uniform(a = sqrt(5)) as nn.Linear, or zeros with ``init="zeros"`` (the
        authors' option). Low rank [ours]: U(-b, b) with b = (3 / (rank V))^(1/4), so that
        sym(A B^T) has the entry variance of sym(dense init).
        """
        if self.mode == "dense" and self.init == "zeros":
            nn.init.zeros_(self.w_raw)
        elif self.mode == "dense":
            nn.init.kaiming_uniform_(self.w_raw, a=math.sqrt(5))
        else:
            bound = (3.0 / (self.rank * self.num_labels)) ** 0.25
            nn.init.uniform_(self.factors, -bound, bound)

    def form(self) -> DependencyForm:
        """W's quadratic form over this loss's parameters."""
        if self.mode == "dense":
            return DenseForm(self.w_raw)
        return LowRankForm(self.factors)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        return dependency_aware_loss(logits, targets, self.form(), self.alpha_neg, self.lam, self.eps, self.loss_scale)

    @torch.no_grad()
    def dependency_matrix(self) -> Tensor:
        """The effective W [V, V]: symmetric, zero diagonal, detached (dense even in low-rank mode)."""
        if self.mode == "dense":
            return symmetric_zero_diagonal(self.w_raw.detach())
        return lowrank_matrix(self.factors.detach())

    def export_dependency_matrix(self, codes: list[str], path: str | Path, top_k: int | None = None) -> Path:
        """Write W's upper triangle as a parquet of (code_a, code_b, weight); see export.py."""
        from .export import export_dependency_matrix

        return export_dependency_matrix(self.dependency_matrix(), codes, path, top_k)

    def _params_repr(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alpha_neg": self.alpha_neg, "lam": self.lam, "eps": self.eps}
        if self.loss_scale != 1.0:
            out["loss_scale"] = self.loss_scale
        out["mode"] = self.mode
        if self.mode == "lowrank":
            out["rank"] = self.rank
        if self.init != "kaiming":
            out["init"] = self.init
        return out
