"""Shared pieces of the text models (cnn, bigru, caml, laat, marn).

Batch contract for every text model:

- ``tokens``: LongTensor [B, T], token ids, 0 = PAD; documents are right-padded.
- ``token_mask``: BoolTensor [B, T], True on real tokens (a prefix of each row).

Output: logits [B, V] over the ICD labels (MARN with ``num_ccs > 0`` returns a dict, see
:mod:`clincode.models.marn`). Models never compute a loss.

Padding invariance: every model gives the same logits in eval mode whatever number of PAD tokens
is appended (both GRU directions see only real tokens, convolutions see zeros at padding,
pooling and attention ignore padding).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


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
        """Copy a pretrained [vocab_size, embed_dim] matrix, rows L2-normalised (docs/methods.md section 4.1).

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


class DescriptionQueryInit(TextModel):
    """Label descriptions for label-attention models, and description-initialised queries [ours].

    ``set_label_descriptions(desc_ids [V, L], desc_mask [V, L])`` (see
    :mod:`clincode.models.layers.descriptions`) stores the descriptions as non-persistent buffers
    (they follow ``.to(device)`` but are not saved in checkpoints). When the model was built with
    ``init_queries_from_descriptions=True`` it then sets the ICD head's query matrix U:

    1. each description goes through the model's own, still untrained, document encoder up to
       the space U acts on, in eval mode (no dropout) and without gradients: CAML
       ``tanh(conv(embed))``, LAAT ``tanh(W BiGRU(embed))``, MARN ``RAM(BiGRU(embed))``;
    2. those token features are averaged over the description's real tokens (the "mean of the
       description's word embeddings projected to the hidden size", the projection being the
       encoder itself, so U_l points where document tokens resembling the description land);
    3. U_l takes that direction with the norm of the default Xavier initialisation
       (:meth:`LabelAttention.set_query_rows`).

    Labels with an empty description keep their Xavier row; output weights F, biases and a
    MARN CCS head are untouched. Because step 1 uses the current word embeddings,
    :meth:`load_embeddings` re-applies the initialisation when descriptions are already set, so
    the result does not depend on the order of the two calls. Closest published idea: label
    embedding initialisation of the attention and output layers (Dong et al. 2021, HLAN), from
    code co-occurrence rather than descriptions. With the flag False (the default) descriptions
    are only stored and the model behaves exactly as without them.
    """

    init_queries_from_descriptions: bool
    desc_ids: Tensor | None  # buffers
    desc_mask: Tensor | None
    # Descriptions encoded this many at a time (bounds memory for MARN's 600-d features).
    DESCRIPTION_CHUNK = 256

    def _init_descriptions(self, init_queries_from_descriptions: bool) -> None:
        """Call from ``__init__``: declares the description buffers (empty until set)."""
        self.init_queries_from_descriptions = bool(init_queries_from_descriptions)
        self.register_buffer("desc_ids", None, persistent=False)
        self.register_buffer("desc_mask", None, persistent=False)

    def _description_head(self) -> Any:  # the label-attention layer (num_labels, set_query_rows)
        """The :class:`LabelAttention` head whose labels the descriptions describe."""
        raise NotImplementedError

    def _description_token_features(self, ids: Tensor, mask: Tensor) -> Tensor:
        """Token features of descriptions in the space of the head's queries: [N, L] -> [N, L, d]."""
        raise NotImplementedError

    def set_label_descriptions(self, desc_ids: Tensor, desc_mask: Tensor) -> None:
        """Store label descriptions (ids [V, L] long, mask [V, L] bool); see the class docstring."""
        from clincode.models.layers.descriptions import check_label_descriptions

        head = self._description_head()
        ids, mask = check_label_descriptions(desc_ids, desc_mask, head.num_labels, self.embed.embedding.num_embeddings)
        device = self.embed.embedding.weight.device
        self.desc_ids, self.desc_mask = ids.to(device), mask.to(device)
        if self.init_queries_from_descriptions:
            self.init_queries()

    def load_embeddings(self, matrix: Tensor) -> None:
        super().load_embeddings(matrix)
        if self.init_queries_from_descriptions and self.desc_ids is not None:
            self.init_queries()

    @torch.no_grad()
    def description_features(self) -> Tensor:
        """Mean query-space feature of every label description, [V, d] (0 for empty descriptions)."""
        from clincode.models.layers.descriptions import masked_mean

        if self.desc_ids is None or self.desc_mask is None:
            raise ValueError(f"{type(self).__name__} has no label descriptions; call set_label_descriptions first")
        was_training = self.training
        self.eval()
        try:
            out = []
            for start in range(0, self.desc_ids.shape[0], self.DESCRIPTION_CHUNK):
                ids = self.desc_ids[start : start + self.DESCRIPTION_CHUNK]
                mask = self.desc_mask[start : start + self.DESCRIPTION_CHUNK]
                width = max(int(mask.sum(1).max()), 1)  # drop all-PAD columns of this chunk
                ids, mask = ids[:, :width], mask[:, :width]
                out.append(masked_mean(self._description_token_features(ids, mask), mask))
        finally:
            self.train(was_training)
        return torch.cat(out)

    def init_queries(self) -> None:
        """Set the head's U rows from the descriptions (steps 1-3 of the class docstring)."""
        vectors = self.description_features()
        assert self.desc_mask is not None  # description_features() checked they are set
        rows = self.desc_mask.any(1) & (vectors.norm(dim=1) > 0)
        self._description_head().set_query_rows(vectors, rows)


class BiGRUEncoder(nn.Module):
    """One-layer bidirectional GRU: [B, T, E] -> [B, T, 2 * hidden], zero at padding.

    Same result as running ``self.gru`` on a packed sequence (each direction sees only a
    document's real tokens; the backward direction starts at its last real token), but computed
    as two unpacked single-direction passes: PyTorch's CPU backward pass through a packed RNN
    costs time quadratic in T (pytorch/pytorch#149194; 4 x 1,000 tokens: 11.7 s packed vs 1.4 s
    unpacked here), which made MARN / LAAT / BiGRU unusable at 4,000 tokens. Right padding never
    reaches the forward direction's real positions; for the backward direction every row is
    reversed within its own length first (trailing PADs stay at the end) and the output is
    reversed back with the same permutation. Parameters live in ``self.gru`` (a bidirectional
    ``nn.GRU``), so state dicts and initialisation are those of the packed version.
    """

    _FORWARD = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")

    def __init__(self, input_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.gru = nn.GRU(input_dim, hidden_size, batch_first=True, bidirectional=True)

    def _direction(self, x: Tensor, suffix: str) -> Tensor:
        """One GRU direction over x [B, T, E] from t = 0 with h_0 = 0 -> [B, T, hidden]."""
        weights = [getattr(self.gru, name + suffix) for name in self._FORWARD]
        h0 = x.new_zeros(1, x.shape[0], self.gru.hidden_size)
        # aten::gru with bidirectional=False, batch_first=True: the op nn.GRU itself calls.
        out, _ = torch.ops.aten.gru.input(x, h0, weights, True, 1, 0.0, self.training, False, True)
        return out

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        total = x.shape[1]
        lengths = mask.sum(1, keepdim=True)  # (B, 1); the mask is a prefix of each row
        steps = torch.arange(total, device=x.device).unsqueeze(0)  # (1, T)
        # Reverse each row's real tokens in place; padding positions map to themselves.
        flip = torch.where(steps < lengths, lengths - 1 - steps, steps)  # (B, T), an involution
        index = flip.unsqueeze(-1)
        forward_out = self._direction(x, "")
        backward_rev = self._direction(x.gather(1, index.expand(-1, -1, x.shape[2])), "_reverse")
        backward_out = backward_rev.gather(1, index.expand(-1, -1, backward_rev.shape[2]))
        out = torch.cat([forward_out, backward_out], dim=-1)
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
