"""Per-label attention over token features (CAML and LAAT styles).

CAML (Mullenbach et al. 2018; docs/methods.md section 4.3, MARN's heads): scores S = U H^T.
LAAT (Vu et al. 2020): scores S = U tanh(W H^T), W: d_a x D, U: L x d_a.
Both: A = softmax_T(S) with padding masked out before the softmax, M = A H [B, L, D], and
logit_l = <F_l, M_l> + b_l with a separate output vector F_l per label.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class LabelAttention(nn.Module):
    """Label-wise attention head: features [B, T, D] + mask [B, T] -> logits [B, L], weights [B, L, T].

    ``projection_dim=None`` gives the CAML form (U: L x D); an integer d_a gives the LAAT form
    with a bias-free d_a x D projection followed by tanh, as in the LAAT paper.
    """

    def __init__(self, in_dim: int, num_labels: int, projection_dim: int | None = None) -> None:
        super().__init__()
        if in_dim <= 0 or num_labels <= 0:
            raise ValueError(f"LabelAttention needs in_dim > 0 and num_labels > 0, got {in_dim} and {num_labels}")
        self.projection = nn.Linear(in_dim, projection_dim, bias=False) if projection_dim else None
        score_dim = projection_dim if projection_dim else in_dim
        self.query = nn.Linear(score_dim, num_labels, bias=False)  # U
        self.output_weight = nn.Parameter(torch.empty(num_labels, in_dim))  # F
        self.output_bias = nn.Parameter(torch.zeros(num_labels))  # b
        # Xavier as in CAML's reference description; keeps initial logits O(1).
        nn.init.xavier_uniform_(self.output_weight)
        nn.init.xavier_uniform_(self.query.weight)
        if self.projection is not None:
            nn.init.xavier_uniform_(self.projection.weight)

    @property
    def num_labels(self) -> int:
        return self.query.weight.shape[0]

    @torch.no_grad()
    def set_query_rows(self, vectors: Tensor, rows: Tensor) -> None:
        """Overwrite the label queries U[l] for ``rows`` (bool [L]) with directions ``vectors`` [L, d].

        Each chosen row becomes ``vectors[l] / ||vectors[l]|| * sqrt(2 d / (d + L))``, the expected
        row norm of U's Xavier-uniform initialisation (bound sqrt(6 / (d + L)), d entries of
        variance bound^2 / 3), so attention scores keep the scale of the default initialisation and
        only the direction comes from ``vectors``. Other rows are left as they are.
        """
        weight = self.query.weight
        if vectors.shape != weight.shape or rows.shape != weight.shape[:1]:
            raise ValueError(
                f"query vectors must be {tuple(weight.shape)} with rows [{weight.shape[0]}], "
                f"got {tuple(vectors.shape)} and {tuple(rows.shape)}"
            )
        n_labels, dim = weight.shape
        norm = (2.0 * dim / (dim + n_labels)) ** 0.5
        v = vectors.to(weight.dtype)
        scaled = v / v.norm(dim=1, keepdim=True).clamp(min=1e-12) * norm
        weight[rows] = scaled[rows]

    def attention(self, h: Tensor, mask: Tensor) -> Tensor:
        """Attention weights [B, L, T]: each row sums to 1 over real tokens, 0 on padding.

        A document without any real token gets an all-zero row instead of NaN.
        """
        z = torch.tanh(self.projection(h)) if self.projection is not None else h  # (B, T, d)
        # U z^T computed directly in (B, L, T) layout: the softmax then runs over contiguous rows
        # and no transposed copy of this, the largest tensor of the model, is made.
        scores = torch.matmul(self.query.weight, z.transpose(1, 2))  # (B, L, T)
        keep = mask.unsqueeze(1)  # (B, 1, T)
        # finfo.min instead of -inf: an all-padding row gives a finite uniform softmax that the
        # multiplication by the mask below turns into zeros (no NaN). In place: matmul does not
        # keep its output for the backward pass.
        scores.masked_fill_(~keep, torch.finfo(scores.dtype).min)
        a = torch.softmax(scores, dim=-1)
        # In a row with a real token, exp(finfo.min - max) underflows to exactly 0 at padding, so
        # the mask multiplication (one more [B, L, T] tensor kept for backward) is only needed
        # when some document has no real token.
        if not bool(mask.any(1).all()):
            a = a * keep.to(a.dtype)
        return a

    def forward(self, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Return (logits [B, L], attention [B, L, T]) for features h [B, T, D] and mask [B, T]."""
        if h.dim() != 3 or mask.shape != h.shape[:2]:
            raise ValueError(f"LabelAttention expects h [B, T, D] and mask [B, T], got {tuple(h.shape)} and {tuple(mask.shape)}")
        a = self.attention(h, mask.bool())
        m = torch.bmm(a, h)  # (B, L, D)
        logits = (m * self.output_weight).sum(-1) + self.output_bias
        return logits, a
