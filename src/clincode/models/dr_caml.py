"""DR-CAML (Mullenbach et al. 2018): CAML plus a label-description regulariser.

Each label l has a description; a description module turns it into a vector z_l of the size of
CAML's output weights beta_l (``attention.output_weight[l]``, [F]). Following the authors' public
code (caml-mimic, ``learn/models.py``; read for facts only), the module is: word embeddings of the
description -> Conv1d with CAML's kernel width and F filters -> tanh -> max pool over the
description's tokens -> Linear(F, F), all Xavier-initialised; the description embedding is a
separate, trainable copy of the document word embedding (``share_description_embedding=True``
reuses the document embedding itself instead). [ours] the max pool ignores padding (the reference
pools over the padded batch of descriptions).

Regulariser, with P_i the positive labels of document i that have a description and D the
documents of the batch with P_i non-empty (the reference code's form: the squared difference
averaged over the F entries, summed over the document's positive labels, averaged over
documents)::

    R = lambda * mean_{i in D} sum_{l in P_i} ||z_l - beta_l||^2 / F

Gradients reach both the description module and beta. The reference code multiplies the
per-label mean by the document's label count "to make sure the overall mean is balanced with
regard to number of labels", so a document's term is a sum, not a mean, over its positive labels;
that is what is implemented (the paper's text was not available offline to compare with).
Default lambda 0.01: the released DR-CAML command for MIMIC-III full codes (8,922 labels, the
closest setting to CodiEsp's 1,767); the released commands use 10 for MIMIC-III top-50 and 0.1
for MIMIC-II. The training loss is ``task loss + auxiliary_loss(batch)`` (train/module.py).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from clincode.models.caml import CAML
from clincode.models.registry import MODELS
from clincode.models.text import SameConv1d, masked_max


@MODELS.register("dr_caml")
class DRCAML(CAML):
    """CAML with DR-CAML's description regulariser (``auxiliary_loss``); tokens [B, T] -> logits [B, V]."""

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
        description_lambda: float = 0.01,
        share_description_embedding: bool = False,
    ) -> None:
        super().__init__(
            vocab_size,
            num_labels,
            embed_dim=embed_dim,
            embed_dropout=embed_dropout,
            freeze_embeddings=freeze_embeddings,
            kernel_size=kernel_size,
            num_filters=num_filters,
            init_queries_from_descriptions=init_queries_from_descriptions,
        )
        if description_lambda < 0:
            raise ValueError(f"dr_caml description_lambda must be >= 0, got {description_lambda}")
        self.description_lambda = float(description_lambda)
        self.share_description_embedding = bool(share_description_embedding)
        self.desc_embedding: nn.Embedding | None = None
        if not share_description_embedding:
            self.desc_embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
            with torch.no_grad():
                self.desc_embedding.weight.copy_(self.embed.embedding.weight)
            self.desc_embedding.weight.requires_grad_(not freeze_embeddings)
        self.desc_conv = SameConv1d(embed_dim, num_filters, kernel_size)
        self.desc_fc = nn.Linear(num_filters, num_filters)
        nn.init.xavier_uniform_(self.desc_conv.conv.weight)
        nn.init.xavier_uniform_(self.desc_fc.weight)

    def load_embeddings(self, matrix: Tensor) -> None:
        """Load the document embedding and, unless shared, its description copy (same rows)."""
        super().load_embeddings(matrix)
        if self.desc_embedding is not None:
            with torch.no_grad():
                self.desc_embedding.weight.copy_(self.embed.embedding.weight)

    def description_vectors(self, ids: Tensor, mask: Tensor) -> Tensor:
        """z for descriptions ids [N, L] long, mask [N, L] bool -> [N, F] (with gradients)."""
        table = self.desc_embedding if self.desc_embedding is not None else self.embed.embedding
        x = table(ids) * mask.unsqueeze(-1).to(table.weight.dtype)  # (N, L, E), no dropout as in the reference
        h = self.desc_conv(x, mask).tanh()  # (N, L, F)
        return self.desc_fc(masked_max(h, mask))  # (N, F)

    def auxiliary_loss(self, batch: dict[str, Tensor]) -> Tensor | None:
        """The description regulariser R (module docstring) for ``batch["targets"]`` [B, V]; None if lambda = 0.

        Targets are {1, 0, -1} (or probabilities): entries > 0.5 are positives, -1 is ignored.
        Labels whose description is empty are left out of P_i. A batch without any such positive
        gives a zero that still depends on the parameters (the graph stays connected).
        """
        if self.description_lambda == 0.0:
            return None
        if self.desc_ids is None or self.desc_mask is None:
            raise ValueError("dr_caml needs label descriptions: call set_label_descriptions(desc_ids, desc_mask) before training")
        if "targets" not in batch:
            raise ValueError(f"dr_caml auxiliary_loss needs batch field 'targets' [B, V]; got fields {sorted(batch)}")
        targets = batch["targets"]
        beta_all = self.attention.output_weight  # (V, F)
        if targets.dim() != 2 or targets.shape[1] != beta_all.shape[0]:
            raise ValueError(f"batch 'targets' must be [B, {beta_all.shape[0]}], got {tuple(targets.shape)}")
        positive = (targets > 0.5) & self.desc_mask.any(1).unsqueeze(0)  # (B, V)
        labels = positive.any(0).nonzero().squeeze(1)  # labels positive somewhere in the batch
        if labels.numel() == 0:
            return beta_all.sum() * 0.0
        z = self.description_vectors(self.desc_ids[labels], self.desc_mask[labels])  # (U, F)
        per_label = (z - beta_all[labels]).pow(2).mean(1)  # ||z_l - beta_l||^2 / F, (U,)
        per_doc = positive[:, labels].to(per_label.dtype) @ per_label  # (B,)
        has_positive = positive.any(1)
        return self.description_lambda * per_doc[has_positive].mean()
