"""LAAT (Vu et al. 2020): embedding -> BiGRU -> label attention A = softmax(U tanh(W H^T)).

Defaults from the LAAT paper's MIMIC-III-50 setting: 256 hidden units per direction, d_a = 256,
dropout 0.3 on the BiGRU output [ours: applied before attention]. ``init_queries_from_descriptions``
is described in :class:`clincode.models.text.DescriptionQueryInit`. Batch contract in
:mod:`clincode.models.text`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from clincode.models.layers.label_attention import LabelAttention
from clincode.models.registry import MODELS
from clincode.models.text import BiGRUEncoder, DescriptionQueryInit, TextEmbedding, batch_inputs


@MODELS.register("laat")
class LAAT(DescriptionQueryInit):
    """BiGRU with LAAT label attention; tokens [B, T] -> logits [B, V]."""

    def __init__(
        self,
        vocab_size: int,
        num_labels: int,
        embed_dim: int = 100,
        embed_dropout: float = 0.2,
        freeze_embeddings: bool = False,
        hidden_size: int = 256,
        attention_dim: int = 256,
        dropout: float = 0.3,
        init_queries_from_descriptions: bool = False,
    ) -> None:
        super().__init__()
        self.embed = TextEmbedding(vocab_size, embed_dim, embed_dropout, freeze_embeddings)
        self.encoder = BiGRUEncoder(embed_dim, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.attention = LabelAttention(2 * hidden_size, num_labels, projection_dim=attention_dim)
        self._init_descriptions(init_queries_from_descriptions)

    def _description_head(self) -> nn.Module:
        return self.attention

    def _description_token_features(self, ids: Tensor, mask: Tensor) -> Tensor:
        h = self.encoder(self.embed(ids, mask), mask)  # (N, L, 2H)
        projection = self.attention.projection
        assert projection is not None  # LAAT's attention always projects
        return torch.tanh(projection(h))  # (N, L, d_a): U's space

    def _encode(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        tokens, mask = batch_inputs(batch)
        h = self.dropout(self.encoder(self.embed(tokens, mask), mask))  # (B, T, 2H)
        return self.attention(h, mask)
