"""Dependency-aware objectives of ours (docs/methods.md section 1.9) [ours].

Two losses that keep Ho et al.'s idea, a learned population-level label-dependency matrix W that
a clinician can audit, on the log-loss scale where bce's ranking quality comes from:

* ``dependency_log``: the paper's rank weighting (ordered weighted average, largest weight on the
  hardest label) and W term, with correctness on the log scale (``log q``, q the probability of
  the correct outcome) and the batch class weights optional (default: none).
* ``dependency_pl``: bce plus a pseudo-likelihood term in which the other labels of the same
  target row shift each label's logit through W, ``z_j = x_j + sum_k W_jk y_k``; W is a
  conditional log-odds shift ("code k in the next visit moves code j's log-odds by W_jk"), read
  off the population, initialised at and pulled toward the training PMI.

Both own a dense symmetric W with zero diagonal (``dependency_matrix()``, audited by
``clincode audit``), optionally restricted to each label's ``top_k`` most frequent co-occurring
partners, initialised at zero, nn.Linear's Kaiming-uniform or the training PMI, and optionally
pulled toward the training PMI by ``prior_reg * mean over the kept pairs of (W - PMI)^2``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import LossModule
from .dependency import DEFAULT_LAMBDA, class_weights, resolve_lambda
from .inputs import compute_dtype
from .reduction import masked_mean
from .registry import LOSSES
from .stats import LabelStats

WInit = Literal["kaiming", "zeros", "pmi"]
W_INITS = ("kaiming", "zeros", "pmi")
ClassWeights = Literal["none", "batch"]
CLASS_WEIGHTS = ("none", "batch")


def training_pmi(stats: LabelStats, smoothing: float = 1.0) -> np.ndarray:
    """PMI [V, V] of the training rows' positive labels, on co-occurring pairs; 0 elsewhere.

    ``PMI_ab = log(p_ab / (p_a p_b))`` with add-``smoothing`` counts, ``p_ab = (C_ab + s) / (n + s)``
    and ``p_a = (n_a + s) / (n + s)`` (the audit's definition, docs/methods.md section 1.8); pairs
    that never co-occur and the diagonal are 0.
    """
    c = stats.cooccurrence().toarray()
    n = float(stats.n_rows)
    counts = np.diag(c).copy()
    log_pi = np.log((counts + smoothing) / (n + smoothing))
    out = np.log((c + smoothing) / (n + smoothing)) - log_pi[:, None] - log_pi[None, :]
    out[c == 0] = 0.0
    np.fill_diagonal(out, 0.0)
    return out


def pair_mask(stats: LabelStats, top_k: int | None) -> np.ndarray:
    """float [V, V]: 1 on the kept pairs (all off-diagonal pairs, or each label's ``top_k`` most
    frequent co-occurring partners, kept when either end keeps it), 0 elsewhere and on the diagonal.
    """
    v = stats.num_labels
    if top_k is None:
        mask = np.ones((v, v))
    else:
        mask = (stats.cooccurrence(top=top_k).toarray() > 0).astype(np.float64)
    np.fill_diagonal(mask, 0.0)
    return mask


class _LearnedW(LossModule):
    """A dense symmetric W with zero diagonal, restricted to a pair mask, with a PMI prior."""

    w_mask: Tensor  # buffers
    w_prior: Tensor

    def __init__(self, num_labels: int, init: WInit, prior_reg: float, top_k: int | None) -> None:
        super().__init__(num_labels)
        if init not in W_INITS:
            raise ValueError(f"init must be one of {', '.join(map(repr, W_INITS))}, got {init!r}")
        if not (isinstance(prior_reg, (int, float)) and math.isfinite(prior_reg) and prior_reg >= 0):
            raise ValueError(f"prior_reg must be a finite number >= 0, got {prior_reg!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"top_k must be None or an int >= 1, got {top_k!r}")
        self.init, self.prior_reg, self.top_k = init, float(prior_reg), top_k
        self.w_raw = nn.Parameter(torch.empty(num_labels, num_labels))
        mask = torch.ones(num_labels, num_labels)
        mask.fill_diagonal_(0.0)
        self.register_buffer("w_mask", mask)  # kept pairs (all until fitted with top_k)
        self.register_buffer("w_prior", torch.zeros(num_labels, num_labels))  # training PMI once fitted
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """kaiming: nn.Linear's init; zeros and pmi: zero (pmi: the PMI is copied in by ``fit``)."""
        if self.init == "kaiming":
            nn.init.kaiming_uniform_(self.w_raw, a=math.sqrt(5))
        else:
            nn.init.zeros_(self.w_raw)

    def fit(self, stats: LabelStats) -> _LearnedW:
        """Training PMI (the prior), the top-k pair mask and, with ``init="pmi"``, W = PMI."""
        self._check_stats(stats)
        needs_rows = self.init == "pmi" or self.prior_reg > 0 or self.top_k is not None
        if not stats.has_rows:
            if needs_rows:
                warnings.warn(
                    f"{type(self).__name__}: the label statistics have no per-row record, so W is not fitted "
                    "to the training co-occurrence (no PMI prior, no top-k mask)",
                    stacklevel=2,
                )
            return self
        with torch.no_grad():
            self.w_mask.copy_(torch.as_tensor(pair_mask(stats, self.top_k)))
            self.w_prior.copy_(torch.as_tensor(training_pmi(stats)) * self.w_mask)
            if self.init == "pmi":
                self.w_raw.copy_(self.w_prior)
        return self

    def effective_w(self, dtype: torch.dtype) -> Tensor:
        """W = (W_raw + W_raw^T) / 2 on the kept pairs, zero elsewhere and on the diagonal (graph kept)."""
        w = self.w_raw.to(dtype)
        return (w + w.T) * 0.5 * self.w_mask.to(dtype)

    def prior_penalty(self, w: Tensor, any_row: bool) -> Tensor:
        """``prior_reg * mean over kept pairs (W - PMI)^2``; 0 (attached) without a valid row."""
        if self.prior_reg == 0 or not any_row:
            return w.sum() * 0.0
        mask = self.w_mask.to(w.dtype)
        diff = (w - self.w_prior.to(w.dtype)) * mask
        return self.prior_reg * diff.pow(2).sum() / mask.sum().clamp_min(1.0)

    @torch.no_grad()
    def dependency_matrix(self) -> Tensor:
        """The effective W [V, V]: symmetric, zero diagonal, zero outside the kept pairs, detached."""
        return self.effective_w(self.w_raw.dtype).detach().clone()

    def export_dependency_matrix(self, codes: list[str], path: str | Path, top_k: int | None = None) -> Path:
        """Write W's upper triangle as a parquet of (code_a, code_b, weight); see export.py."""
        from .export import export_dependency_matrix

        return export_dependency_matrix(self.dependency_matrix(), codes, path, top_k)

    def _w_repr(self) -> dict[str, Any]:
        out: dict[str, Any] = {"init": self.init}
        if self.prior_reg:
            out["prior_reg"] = self.prior_reg
        if self.top_k is not None:
            out["top_k"] = self.top_k
        return out


def _check_number(name: str, value: Any) -> float:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _flat(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    v = logits.shape[-1]
    x = logits.reshape(-1, v).to(compute_dtype(logits.dtype))
    t = targets.reshape(-1, v)
    m = (t != -1).to(x.dtype)
    y = (t == 1).to(x.dtype)
    return x, y, m, t


def dependency_log_loss(
    logits: Tensor,
    targets: Tensor,
    w: Tensor,
    class_weights_mode: ClassWeights = "none",
    alpha_neg: float = 25.0,
    lam: float = 10.0,
    eps: float = 1e-6,
) -> Tensor:
    """Rank-weighted log-loss plus the paper's W term; mean over rows with a valid label.

    Per row with K valid labels: ``e_j = kappa_j * (-log q_j)`` (kappa = 1, or the batch class
    weights w_pos / w_neg of the paper); sorted ascending, ``L_rank = sum_i omega_i e_(i)`` with
    ``omega_i = 2 i / (K (K + 1))``, so the largest loss gets the largest weight; the W term is the
    paper's, ``1 - sigmoid(u^T W u / K)`` with ``u_j = kappa_j q_j`` (on probabilities: on the log
    scale the quadratic form would reward pairs of large losses). ``L_row = L_rank + lam * I``.
    ``w``: the effective W [V, V] (symmetric, zero diagonal), in the logits' compute dtype.
    """
    x, y, m, _ = _flat(logits, targets)
    k = m.sum(dim=1)
    keep = k > 0
    if not bool(keep.any()):
        return x.sum() * 0.0 + w.sum() * 0.0
    x, y, m, k = x[keep], y[keep], m[keep], k[keep]
    s = 2.0 * y - 1.0
    if class_weights_mode == "batch":
        w_pos, w_neg = class_weights(y, m, alpha_neg, eps)
        kappa = m * (w_neg + y * (w_pos - w_neg))
    else:
        kappa = m
    nll = F.softplus(-s * x)
    e = torch.where(m > 0, kappa * nll, torch.full_like(nll, -1.0))  # ignored entries sort first
    e_sorted, _ = torch.sort(e, dim=1)
    n_ign = (m.shape[1] - k).unsqueeze(1)
    pos = torch.arange(1, m.shape[1] + 1, dtype=x.dtype, device=x.device).unsqueeze(0) - n_ign
    omega = torch.where(pos > 0, 2.0 * pos / (k * (k + 1.0)).unsqueeze(1), torch.zeros_like(pos))
    rank_term = (omega * e_sorted).sum(dim=1)
    u = kappa * torch.sigmoid(s * x)
    q = ((u @ w) * u).sum(dim=1)
    row = rank_term + lam * torch.sigmoid(-q / k)
    return row.mean()


def dependency_pl_loss(
    logits: Tensor, targets: Tensor, w: Tensor, mu: float = 1.0, detach: bool = False, center: bool = False
) -> Tensor:
    """bce(x) + mu * bce(z) with ``z_j = x_j + sum_k W_jk y_k`` (the row's other positive labels).

    Both means are over valid entries. ``detach``: the pseudo-likelihood term reaches W only (the
    model is trained by bce alone). ``center``: the other labels enter as their surprise against
    the model, ``y_k - sigmoid(x_k)`` (the probability a constant, no gradient; ignored labels
    contribute 0), so the shift averages out at prediction time instead of being folded into x.
    ``w``: the effective W [V, V], symmetric with zero diagonal.
    """
    x, y, m, _ = _flat(logits, targets)
    s = 2.0 * y - 1.0
    bce = masked_mean(F.softplus(-s * x), m)
    shift = (m * (y - torch.sigmoid(x.detach()))) @ w if center else positive_rows_sum(y, w)
    z = (x.detach() if detach else x) + shift
    return bce + mu * masked_mean(F.softplus(-s * z), m)


def positive_rows_sum(y: Tensor, w: Tensor) -> Tensor:
    """``y @ w`` for a 0/1 matrix y [N, V]: each row's sum of W's rows at its positive labels.

    One ``embedding_bag`` over the positives (a handful per row) instead of a dense [N, V] x [V, V]
    product, so the cost grows with the positives, not with V^2 per row.
    """
    rows, cols = y.nonzero(as_tuple=True)
    counts = torch.bincount(rows, minlength=y.shape[0])
    offsets = torch.cumsum(counts, 0) - counts
    return F.embedding_bag(cols, w, offsets, mode="sum")


@LOSSES.register("dependency_log")
class DependencyLogLoss(_LearnedW):
    """Dependency-aware loss on the log scale (ours): rank-weighted -log q plus the paper's W term, no class weights.

    ``class_weights``: ``"none"`` (default) or ``"batch"`` (the paper's w_pos = N/P and
    w_neg = alpha_neg P/N). ``lam`` (alias ``lambda_reg``) weighs the W term (10, the paper's).
    W: ``init`` ``"kaiming"`` (default) / ``"zeros"`` / ``"pmi"`` (the training PMI, set by
    ``fit``), ``prior_reg`` (pull toward the training PMI, 0 by default), ``top_k`` (W restricted
    to each label's top-k co-occurring partners; None: dense).
    """

    def __init__(
        self,
        num_labels: int,
        class_weights: ClassWeights = "none",
        alpha_neg: float = 25.0,
        lam: float = DEFAULT_LAMBDA,
        eps: float = 1e-6,
        init: WInit = "kaiming",
        prior_reg: float = 0.0,
        top_k: int | None = None,
        lambda_reg: float | None = None,
    ) -> None:
        super().__init__(num_labels, init, prior_reg, top_k)
        if class_weights not in CLASS_WEIGHTS:
            raise ValueError(f"class_weights must be one of {', '.join(map(repr, CLASS_WEIGHTS))}, got {class_weights!r}")
        self.class_weights: ClassWeights = class_weights
        self.alpha_neg = _check_number("alpha_neg", alpha_neg)
        self.lam = _check_number("lam", resolve_lambda(lam, lambda_reg))
        self.eps = _check_number("eps", eps)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        dtype = compute_dtype(logits.dtype)
        w = self.effective_w(dtype)
        value = dependency_log_loss(logits, targets, w, self.class_weights, self.alpha_neg, self.lam, self.eps)
        return value + self.prior_penalty(w, bool((targets != -1).any()))

    def _params_repr(self) -> dict[str, Any]:
        return {"class_weights": self.class_weights, "lam": self.lam, **self._w_repr()}


@LOSSES.register("dependency_pl")
class DependencyPLLoss(_LearnedW):
    """bce plus a pseudo-likelihood label-interaction term through a PMI-anchored W (ours); W audits as conditional log-odds.

    ``mu`` weighs the pseudo-likelihood term (0.5); ``detach`` keeps the model on bce alone (W is
    then learned beside it); ``center`` shifts by the other labels' surprise ``y_k - p_k`` instead
    of ``y_k`` (the logits then stay near the marginal log-odds the prediction needs). W: ``init`` ``"pmi"`` (default) / ``"zeros"`` / ``"kaiming"``,
    ``prior_reg`` (pull toward the training PMI, 1.0), ``top_k`` (None: dense).
    """

    def __init__(
        self,
        num_labels: int,
        mu: float = 0.5,
        detach: bool = False,
        init: WInit = "pmi",
        prior_reg: float = 1.0,
        top_k: int | None = None,
        center: bool = False,
    ) -> None:
        super().__init__(num_labels, init, prior_reg, top_k)
        self.mu = _check_number("mu", mu)
        for name, flag in (("detach", detach), ("center", center)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be a bool, got {flag!r}")
        self.detach, self.center = detach, center

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        dtype = compute_dtype(logits.dtype)
        w = self.effective_w(dtype)
        value = dependency_pl_loss(logits, targets, w, self.mu, self.detach, self.center)
        return value + self.prior_penalty(w, bool((targets != -1).any()))

    def _params_repr(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mu": self.mu}
        if self.detach:
            out["detach"] = True
        if self.center:
            out["center"] = True
        return {**out, **self._w_repr()}
