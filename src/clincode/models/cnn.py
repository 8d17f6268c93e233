"""Kim-style CNN baseline: embedding -> 1-D convolutions -> tanh -> max pool over tokens -> linear.

Defaults follow the CNN baseline of the CAML paper (one kernel of width 4, 500 filters), which is
the CNN the MARN paper compares with; ``kernel_sizes`` allows Kim's several widths. Batch contract
in :mod:`clincode.models.text`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from clincode.models.registry import MODELS
from clincode.models.text import SameConv1d, TextEmbedding, TextModel, batch_inputs, masked_max


@MODELS.register("cnn")
class TextCNN(TextModel):
    """Kim-style CNN with max pooling; tokens [B, T] -> logits [B, V]."""

    def __init__(
        self,
        vocab_size: int,
        num_labels: int,
        embed_dim: int = 100,
        embed_dropout: float = 0.2,
        freeze_embeddings: bool = False,
        kernel_sizes: tuple[int, ...] = (4,),
        num_filters: int = 500,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if not kernel_sizes:
            raise ValueError("cnn kernel_sizes must list at least one kernel width")
        self.embed = TextEmbedding(vocab_size, embed_dim, embed_dropout, freeze_embeddings)
        self.convs = nn.ModuleList(SameConv1d(embed_dim, num_filters, int(k)) for k in kernel_sizes)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(num_filters * len(self.convs), num_labels)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        tokens, mask = batch_inputs(batch)
        x = self.embed(tokens, mask)  # (B, T, E)
        pooled = torch.cat([masked_max(conv(x, mask).tanh(), mask) for conv in self.convs], dim=-1)
        return self.head(self.dropout(pooled))  # (B, V)
