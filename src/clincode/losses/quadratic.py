"""The pairwise dependency term q_r = v_r^T W v_r of the dependency-aware loss, with its gradients.

A *form* holds W's parameters and computes q [R] and, by hand, the gradients with respect to v
and to its parameters. The dependency-aware loss calls them from its own autograd Function, so
no autograd graph over [R, V] temporaries is built.

* :class:`DenseForm` (the paper): ``W = (W_raw + W_raw^T) / 2`` with zero diagonal. The forward is
  one (R x V x V) product Y = v W; because W is symmetric, ``dq/dv = 2 W v = 2 Y`` reuses it, and
  ``dq/dW = v^T diag(g) v`` is the second and last product. Plain autograd through
  ``((v @ W) * v).sum(1)`` spends a third (the gradient of ``v @ W`` with respect to v).
* :class:`LowRankForm` [ours]: ``W = (A B^T + B A^T) / 2`` with zero diagonal, A and B [V, r]
  held side by side in one parameter [V, 2r]. ``v^T W v = (v A)·(v B) - sum_i d_i v_i^2`` with
  ``d_i = (A B^T)_ii``, so W is never formed: three (R x V x 2r) products per step, O(R V r).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from .rowwise import rowdot


def symmetric_zero_diagonal(w_raw: Tensor) -> Tensor:
    """W = (W_raw + W_raw^T) / 2 with its diagonal set to zero, [V, V] (Ho et al. 2026)."""
    w = torch.empty_like(w_raw).copy_(w_raw.mT)  # a blocked transpose copy: 3x faster than add(w, w.mT)
    w.add_(w_raw).mul_(0.5)
    w.diagonal().zero_()
    return w


class Workspace:
    """Free [R, V] buffers a form may take instead of allocating (the spent sort keys of the
    ranking step). On the CPU every fresh large buffer costs page faults, about as much as
    four passes over it, so reusing memory that is already mapped matters.
    """

    def __init__(self, like: Tensor, buffers: list[Tensor] | None = None) -> None:
        self._like = like
        self.free = list(buffers or [])

    @classmethod
    def from_spent(cls, spent: Tensor, like: Tensor) -> Workspace:
        """Slots of ``like``'s shape and dtype carved out of a spent buffer (two from int64 keys
        for float32 values, one for float64).
        """
        rows, cols = like.shape
        n, size = rows * cols, like.element_size()
        start = spent.storage_offset() * spent.element_size() // size
        storage = spent.untyped_storage()
        # set_ (not views): each slot gets its own version counter, so writing one slot does not
        # invalidate another one that autograd saved for the backward
        slots = [
            torch.empty(0, dtype=like.dtype, device=like.device).set_(storage, start + i * n, (rows, cols), (cols, 1))
            for i in range(spent.numel() * spent.element_size() // (n * size))
        ]
        return cls(like, slots)

    def take(self) -> Tensor:
        """A buffer of ``like``'s shape and dtype with arbitrary content."""
        return self.free.pop() if self.free else torch.empty_like(self._like)


class DependencyForm(Protocol):
    """What the dependency-aware loss needs from a W."""

    def params(self) -> tuple[Tensor, ...]:
        """W's parameters (autograd inputs; their gradients come from :meth:`backward`)."""
        ...

    def forward(self, v: Tensor, params: tuple[Tensor, ...], work: Workspace) -> tuple[Tensor, tuple[Tensor, ...]]:
        """q [R] and the tensors backward needs (buffers taken from ``work`` may be among them)."""
        ...

    def backward(
        self, v: Tensor, saved: tuple[Tensor, ...], grad_q: Tensor, params: tuple[Tensor, ...], work: Workspace
    ) -> tuple[Tensor, tuple[Tensor | None, ...]]:
        """(dL/dv [R, V], which the caller may modify in place; dL/d params)."""
        ...


class DenseForm:
    """Dense symmetric W from W_raw [V, V] (Ho et al. 2026)."""

    def __init__(self, w_raw: Tensor) -> None:
        self.w_raw = w_raw

    def params(self) -> tuple[Tensor, ...]:
        return (self.w_raw,)

    def forward(self, v: Tensor, params: tuple[Tensor, ...], work: Workspace) -> tuple[Tensor, tuple[Tensor, ...]]:
        (w_raw,) = params
        y = v @ symmetric_zero_diagonal(w_raw.to(v.dtype))  # (R, V): GEMM 1 of 2
        return rowdot(y, v), (y,)

    def backward(
        self, v: Tensor, saved: tuple[Tensor, ...], grad_q: Tensor, params: tuple[Tensor, ...], work: Workspace
    ) -> tuple[Tensor, tuple[Tensor | None, ...]]:
        (y,) = saved
        g = grad_q.unsqueeze(1)  # (R, 1)
        buffer = work.take()
        grad_w = None
        if params[0].requires_grad:
            grad_w = torch.mul(v, g, out=buffer).mT @ v  # G = dq/dW = v^T diag(g) v, (V, V): GEMM 2 of 2
            # through W = sym(W_raw) with zero diagonal: dq/dW_raw = (G + G^T)/2 off the diagonal,
            # which is G itself (G is symmetric), and 0 on it; no V x V transpose pass needed
            grad_w.diagonal().zero_()
            grad_w = grad_w.to(params[0].dtype)
        # dq/dv = 2 W v = 2 Y: the forward product, reused
        return torch.mul(y, 2.0 * g, out=buffer), (grad_w,)


class LowRankForm:
    """Low-rank symmetric W = sym(A B^T) with zero diagonal, from factors [A | B] [V, 2r] [ours]."""

    def __init__(self, factors: Tensor) -> None:
        if factors.dim() != 2 or factors.shape[1] % 2:
            raise ValueError(f"factors must have shape [V, 2r] (A and B side by side), got {tuple(factors.shape)}")
        self.factors = factors

    def params(self) -> tuple[Tensor, ...]:
        return (self.factors,)

    def forward(self, v: Tensor, params: tuple[Tensor, ...], work: Workspace) -> tuple[Tensor, tuple[Tensor, ...]]:
        ab = params[0].to(v.dtype)
        rank = ab.shape[1] // 2
        z = v @ ab  # (R, 2r) = [v A, v B]: the forward's only product
        diag = rowdot(ab[:, :rank].contiguous(), ab[:, rank:].contiguous())  # (V,), d_i = (A B^T)_ii
        vd = torch.mul(v, diag, out=work.take())  # v * d, kept for the backward
        q = rowdot(z[:, :rank].contiguous(), z[:, rank:].contiguous()) - rowdot(vd, v)
        return q, (z, vd)

    def backward(
        self, v: Tensor, saved: tuple[Tensor, ...], grad_q: Tensor, params: tuple[Tensor, ...], work: Workspace
    ) -> tuple[Tensor, tuple[Tensor | None, ...]]:
        z, vd = saved
        ab = params[0].to(v.dtype)
        rank = ab.shape[1] // 2
        g = grad_q.unsqueeze(1)  # (R, 1)
        z_swapped = torch.cat([z[:, rank:], z[:, :rank]], dim=1).mul_(g)  # g * [v B, v A], (R, 2r)
        buffer = work.take()
        grad: Tensor | None = None
        if params[0].requires_grad:
            # dq/dA = v^T diag(g) (v B) - s * B and dq/dB = v^T diag(g) (v A) - s * A, with
            # s_i = sum_r g_r v_ri^2 from the diagonal correction: one (V x R x 2r) product
            s = torch.mv(torch.mul(v, v, out=buffer).mT, grad_q).unsqueeze(1)  # (V, 1)
            grad = (v.mT @ z_swapped).sub_(torch.cat([ab[:, rank:], ab[:, :rank]], dim=1).mul_(s))
            grad = grad.to(params[0].dtype)
        # dq/dv = A (v B) + B (v A) - 2 d * v: one (R x 2r x V) product plus the diagonal term
        grad_v = torch.matmul(z_swapped, ab.mT, out=buffer)
        return grad_v.addcmul_(vd, g, value=-2.0), (grad,)


def dense_quadratic_form(v: Tensor, w_raw: Tensor) -> Tensor:
    """q [R], q_r = v_r^T W v_r with W = sym(W_raw), zero diagonal, by plain autograd (3 GEMMs):
    the reference the fast path is tested against.
    """
    return torch.linalg.vecdot(v @ symmetric_zero_diagonal(w_raw.to(v.dtype)), v)


def lowrank_matrix(factors: Tensor) -> Tensor:
    """The dense W [V, V] that :class:`LowRankForm` uses implicitly."""
    a, b = factors.chunk(2, dim=1)
    return symmetric_zero_diagonal(a @ b.mT)
