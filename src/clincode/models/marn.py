"""MARN (Sun et al. 2022; docs/methods.md section 4): BiGRU -> RAM -> CAML-style label attention heads.

Embedding (100-d, dropout 0.2) -> BiGRU (300 per direction, H: [B, T, 600]) -> RAM (O: [B, T, 600])
-> an ICD head A = softmax_T(U O^T), M = A O, logit_l = <F_l, M_l> + b_l and, when ``num_ccs > 0``,
a CCS head of the same form on the same O (the multitask scheme).

Output: with ``num_ccs == 0`` the forward returns the ICD logits tensor [B, V]; with
``num_ccs > 0`` it returns ``{"icd": [B, V], "ccs": [B, V_ccs]}`` so the trainer can weight the two
losses (0.7 / 0.3 in the paper). ``init_queries_from_descriptions`` (ICD head only) is described in
:class:`clincode.models.text.DescriptionQueryInit`. Batch contract in :mod:`clincode.models.text`.
"""

from __future__ import annotations

from torch import Tensor, nn

from clincode.models.layers.label_attention import LabelAttention
from clincode.models.layers.ram import RAM
from clincode.models.registry import MODELS
from clincode.models.text import BiGRUEncoder, DescriptionQueryInit, TextEmbedding, batch_inputs


@MODELS.register("marn")
class MARN(DescriptionQueryInit):
    """Multitask balanced and recalibrated network; tokens [B, T] -> ICD logits [B, V] (or dict with CCS)."""

    def __init__(
        self,
        vocab_size: int,
        num_labels: int,
        num_ccs: int = 0,
        embed_dim: int = 100,
        embed_dropout: float = 0.2,
        freeze_embeddings: bool = False,
        hidden_size: int = 300,
        use_ram: bool = True,
        ram_dropout: float = 0.2,
        init_queries_from_descriptions: bool = False,
    ) -> None:
        super().__init__()
        if num_ccs < 0:
            raise ValueError(f"marn num_ccs must be >= 0, got {num_ccs}")
        self.embed = TextEmbedding(vocab_size, embed_dim, embed_dropout, freeze_embeddings)
        self.encoder = BiGRUEncoder(embed_dim, hidden_size)
        # use_ram=False is the paper's "without RAM" ablation.
        self.ram = RAM(2 * hidden_size, ram_dropout) if use_ram else None
        self.icd_head = LabelAttention(2 * hidden_size, num_labels)
        self.ccs_head = LabelAttention(2 * hidden_size, num_ccs) if num_ccs > 0 else None
        self._init_descriptions(init_queries_from_descriptions)

    def _description_head(self) -> nn.Module:
        return self.icd_head

    def _description_token_features(self, ids: Tensor, mask: Tensor) -> Tensor:
        return self.features({"tokens": ids, "token_mask": mask})[0]  # (N, L, 2H): O, U's space

    def features(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Document features O [B, T, 2H] (zero at padding in eval mode) and the mask [B, T]."""
        tokens, mask = batch_inputs(batch)
        h = self.encoder(self.embed(tokens, mask), mask)  # (B, T, 2H)
        return (self.ram(h, mask) if self.ram is not None else h), mask

    def attention_weights(self, batch: dict[str, Tensor]) -> Tensor:
        """ICD label attention [B, V, T] (rows sum to 1 over real tokens)."""
        o, mask = self.features(batch)
        return self.icd_head(o, mask)[1]

    def forward(self, batch: dict[str, Tensor]) -> Tensor | dict[str, Tensor]:  # type: ignore[override]  # the CCS head adds a second output
        o, mask = self.features(batch)
        icd = self.icd_head(o, mask)[0]
        if self.ccs_head is None:
            return icd
        return {"icd": icd, "ccs": self.ccs_head(o, mask)[0]}
