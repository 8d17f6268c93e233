"""Shared pieces of the text models (cnn, bigru, caml, laat, marn).

Batch contract for every text model:

- ``tokens``: LongTensor [B, T], token ids, 0 = PAD; documents are right-padded.
- ``token_mask``: BoolTensor [B, T], True on real tokens (a prefix of each row).

Output: logits [B, V] over the ICD labels (MARN with ``num_ccs > 0`` returns a dict, see
:mod:`clincode.models.marn`). Models never compute a loss.

Padding invariance: every model gives the same logits in eval mode whatever number of PAD tokens
is appended (GRUs run on packed sequences, convolutions see zeros at padding, pooling and
attention ignore padding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def batch_inputs(batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """Return (tokens [B, T] long, token_mask [B, T] bool) from a batch, checking their shapes."""
    for key in ("tokens", "token_mask"):
        if key not in batch:
            raise ValueError(f"text model batch needs field {key!r}; got fields {sorted(batch)}")
    tokens, mask = batch["tokens"], batch["token_mask"].bool()
    if tokens.dim() != 2 or mask.shape != tokens.shape:
        raise ValueError(
            f"batch 'tokens' must be [B, T] and 'token_mask' the same shape, got {tuple(tokens.shape)} and {tuple(mask.shape)}"
        )
    return tokens, mask


class TextEmbedding(nn.Module):
    """Word embedding with PAD row 0 and embedding dropout: tokens [B, T] -> [B, T, E], zero at padding."""

    def __init__(self, vocab_size: int, embed_dim: int = 100, dropout: float = 0.2, freeze: bool = False) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.embedding.weight.requires_grad_(not freeze)
        self.dropout = nn.Dropout(dropout)

    @torch.no_grad()
    def load(self, matrix: Tensor) -> None:
        """Copy a pretrained [vocab_size, embed_dim] matrix, rows L2-normalised (METHODS.md section 3).

        All-zero rows stay zero; the PAD row is set to zero.
        """
        weight = self.embedding.weight
        matrix = torch.as_tensor(matrix)
        if matrix.shape != weight.shape:
            raise ValueError(f"embedding matrix must have shape {tuple(weight.shape)}, got {tuple(matrix.shape)}")
        if not torch.isfinite(matrix).all():
            raise ValueError("embedding matrix contains NaN or infinite values")
        rows = matrix.to(weight.dtype)
        weight.copy_(rows / rows.norm(dim=1, keepdim=True).clamp(min=1e-12))
        weight[0].zero_()

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """tokens [B, T] long, mask [B, T] bool -> [B, T, E]."""
        return self.dropout(self.embedding(tokens)) * mask.unsqueeze(-1).to(self.embedding.weight.dtype)


class TextModel(nn.Module):
    """Base of the text models: owns ``self.embed`` (a :class:`TextEmbedding`).

    Label-attention models (CAML, LAAT) implement ``_encode(batch) -> (logits [B, V], attention
    [B, V, T])`` and inherit ``forward`` and ``attention_weights`` from here.
    """

    embed: TextEmbedding

    def load_embeddings(self, matrix: Tensor) -> None:
        """Copy a pretrained [vocab_size, embed_dim] matrix (rows L2-normalised)."""
        self.embed.load(matrix)

    def _encode(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        raise NotImplementedError(f"{type(self).__name__} has no label attention")

    def attention_weights(self, batch: dict[str, Tensor]) -> Tensor:
        """Label attention [B, V, T] (rows sum to 1 over real tokens)."""
        return self._encode(batch)[1]

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self._encode(batch)[0]  # (B, V)


class BiGRUEncoder(nn.Module):
    """One-layer bidirectional GRU on packed sequences: [B, T, E] -> [B, T, 2 * hidden], zero at padding."""

    def __init__(self, input_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.gru = nn.GRU(input_dim, hidden_size, batch_first=True, bidirectional=True)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        total = x.shape[1]
        # Packing makes the backward direction start at each document's last real token, so
        # trailing PADs cannot leak in. Empty documents get length 1 (their output is masked).
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=total)
        return out * mask.unsqueeze(-1).to(out.dtype)


class SameConv1d(nn.Module):
    """Conv1d over tokens keeping length T for any kernel size: [B, T, C_in] -> [B, T, C_out].

    Output t sees tokens t - (k-1)//2 .. t + k//2; zero padding on both ends, and inputs are zero
    at padding positions, so appended PADs look like the boundary padding.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        if kernel_size < 1:
            raise ValueError(f"kernel_size must be >= 1, got {kernel_size}")
        self.left = (kernel_size - 1) // 2
        self.right = kernel_size - 1 - self.left
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = (x * mask.unsqueeze(-1).to(x.dtype)).transpose(1, 2)  # (B, C_in, T)
        return self.conv(F.pad(x, (self.left, self.right))).transpose(1, 2)


def masked_max(h: Tensor, mask: Tensor) -> Tensor:
    """Max over real tokens: h [B, T, D], mask [B, T] -> [B, D]; documents without tokens give 0."""
    filled = h.masked_fill(~mask.unsqueeze(-1), torch.finfo(h.dtype).min)
    return torch.where(mask.any(1, keepdim=True), filled.max(1).values, torch.zeros_like(filled[:, 0]))
