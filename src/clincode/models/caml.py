"""CAML (Mullenbach et al. 2018): embedding -> conv -> tanh -> per-label attention.

Defaults from the CAML paper: kernel width 10, 50 filters, dropout 0.2. DR-CAML (the description
regulariser) is :mod:`clincode.models.dr_caml`; ``init_queries_from_descriptions`` is described in
:class:`clincode.models.text.DescriptionQueryInit`. Batch contract in :mod:`clincode.models.text`.
"""

from __future__ import annotations

from torch import Tensor, nn

from clincode.models.layers.label_attention import LabelAttention
from clincode.models.registry import MODELS
from clincode.models.text import DescriptionQueryInit, SameConv1d, TextEmbedding, batch_inputs


@MODELS.register("caml")
class CAML(DescriptionQueryInit):
    """Convolutional attention for multi-label classification; tokens [B, T] -> logits [B, V]."""

    def __init__(
        self,
        vocab_size: int,
        num_labels: int,
        embed_dim: int = 100,
        embed_dropout: float = 0.2,
        freeze_embeddings: bool = False,
        kernel_size: int = 10,
        num_filters: int = 50,
        init_queries_from_descriptions: bool = False,
    ) -> None:
        super().__init__()
        self.embed = TextEmbedding(vocab_size, embed_dim, embed_dropout, freeze_embeddings)
        self.conv = SameConv1d(embed_dim, num_filters, kernel_size)
        self.attention = LabelAttention(num_filters, num_labels)
        self._init_descriptions(init_queries_from_descriptions)

    def _description_head(self) -> nn.Module:
        return self.attention

    def _description_token_features(self, ids: Tensor, mask: Tensor) -> Tensor:
        return self.conv(self.embed(ids, mask), mask).tanh()  # (N, L, F): U's space

    def _encode(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        tokens, mask = batch_inputs(batch)
        h = self.conv(self.embed(tokens, mask), mask).tanh()  # (B, T, F)
        return self.attention(h, mask)
