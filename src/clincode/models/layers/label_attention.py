"""Per-label attention over token features (CAML and LAAT styles).

CAML (Mullenbach et al. 2018; METHODS.md section 3, MARN's heads): scores S = U H^T.
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

    def attention(self, h: Tensor, mask: Tensor) -> Tensor:
        """Attention weights [B, L, T]: each row sums to 1 over real tokens, 0 on padding.

        A document without any real token gets an all-zero row instead of NaN.
        """
        z = torch.tanh(self.projection(h)) if self.projection is not None else h  # (B, T, d)
        scores = self.query(z).transpose(1, 2)  # (B, L, T)
        keep = mask.unsqueeze(1)  # (B, 1, T)
        # finfo.min instead of -inf: an all-padding row gives a finite uniform softmax that the
        # multiplication by the mask below turns into zeros (no NaN).
        scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
        return torch.softmax(scores, dim=-1) * keep.to(scores.dtype)

    def forward(self, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Return (logits [B, L], attention [B, L, T]) for features h [B, T, D] and mask [B, T]."""
        if h.dim() != 3 or mask.shape != h.shape[:2]:
            raise ValueError(f"LabelAttention expects h [B, T, D] and mask [B, T], got {tuple(h.shape)} and {tuple(mask.shape)}")
        a = self.attention(h, mask.bool())
        m = torch.bmm(a, h)  # (B, L, D)
        logits = (m * self.output_weight).sum(-1) + self.output_bias
        return logits, a
