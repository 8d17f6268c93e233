"""BiGRU baseline: embedding -> bidirectional GRU -> max pool over tokens -> linear.

Batch contract in :mod:`clincode.models.text`. Hidden size per direction [ours]: 256.
"""

from __future__ import annotations

from torch import Tensor, nn

from clincode.models.registry import MODELS
from clincode.models.text import BiGRUEncoder, TextEmbedding, TextModel, batch_inputs, masked_max


@MODELS.register("bigru")
class BiGRUClassifier(TextModel):
    """BiGRU with max pooling; tokens [B, T] -> logits [B, V]."""

    def __init__(
        self,
        vocab_size: int,
        num_labels: int,
        embed_dim: int = 100,
        embed_dropout: float = 0.2,
        freeze_embeddings: bool = False,
        hidden_size: int = 256,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.embed = TextEmbedding(vocab_size, embed_dim, embed_dropout, freeze_embeddings)
        self.encoder = BiGRUEncoder(embed_dim, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden_size, num_labels)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        tokens, mask = batch_inputs(batch)
        h = self.encoder(self.embed(tokens, mask), mask)  # (B, T, 2H)
        return self.head(self.dropout(masked_max(h, mask)))  # (B, V)
