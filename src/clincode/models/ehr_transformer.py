"""BEHRT-style EHR Transformer for next-visit diagnosis forecasting.

docs/methods.md section 1.2 [ours]: the Ho et al. paper does not state its backbone's exact shape. We use a
BEHRT-style encoder (Li et al. 2020): each input token is a code, and its embedding is the sum of
code, age, visit-position, segment (alternating per visit) and sex embeddings. Attention is causal
at visit level: a token of visit t attends only to tokens of visits <= t, so the representation of
visit t never sees anything dated after the prediction time of visit t. Visit t's representation
is the mean of its tokens' final hidden states; a linear head maps it to V logits, the target being
the code set of visit t+1.

[ours] ``history_skip`` (on by default): a direct path from every code seen up to visit t to the
V logits (a per-code embedding of size V, averaged over the visible tokens and added to the
logits; initialised at zero). It is a logistic regression on the visible history beside the
Transformer, so "a chronic code recurs" is learnt in a few steps instead of being squeezed through
d_model dimensions; the Transformer learns the rest. It respects the same visit-level causality.
Set ``history_skip: false`` for the plain BEHRT-style encoder. The path is computed per visit (an
``embedding_bag`` of each visit's codes, then a cumulative sum over visits), never as one V-wide
vector per token.

[ours] ``tokens: visit``: one token per visit instead of one per code. A visit's token is the sum of
its codes' embeddings plus its age, position and sex embeddings, and attention is causal over
visits (visit t attends to visits <= t). The sequence is T visits long instead of L codes, so
attention costs T^2 instead of L^2 and predicting every visit of a patient stays one pass. The
default ``tokens: code`` is the BEHRT-style encoder above.

[ours] ``repeat_path`` (off by default; on in configs/next_visit.yaml and configs/demo.yaml): a
per-label path over the label's own history at visit t, the part of next-visit forecasting that a
lookup table does well (a coded chronic condition recurs). For every label already coded at a
visit <= t it adds to the logit ``b_c + w . phi + W_c . phi`` with features ``phi`` of the label's
recency and frequency: coded at visit t itself, log(1 + visits since its last occurrence), log(1 +
visits that carried it), its share of the visits so far, log(1 + days since its last occurrence).
``w`` is shared by every label, ``b_c`` and ``W_c`` are the label's own (all initialised at zero and
multiplied by ``repeat_scale``, as ``history_scale``); labels never coded for the patient get
nothing from it, so the Transformer's head is the forecast of new codes. It reads visit t's labels
(the batch's ``history_*`` entries) only at predictions of visits >= t.

[ours] ``repeat_init: table`` (with ``repeat_path``): the run fits the three-cell repeat table on
the training split (each label's rate at the next visit when coded at the last visit, only
earlier, never; :class:`clincode.forecasters.baselines.RepeatTableForecaster`) and the model starts
exactly at it: head bias at the "never" log-odds, head weights 0, the repeat path at the table's
log-odds steps. Training then learns what the table cannot (age, sex, time gaps, the other
conditions), and early stopping on the tuning split keeps the best epoch.

[ours] ``prior_bias`` (off by default): initialise the head's bias at the log-odds of each code's
training prevalence (the prior initialisation of Lin et al. 2017's focal-loss paper, per code), so
training starts at "every code at its base rate" instead of p = 0.5 everywhere. This matters for
losses that are linear in the probability (the dependency-aware loss): their gradient with respect
to a logit carries a factor p(1 - p), so an entry pushed to p ~ 1 early stays there.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from clincode.models.registry import MODELS

REPEAT_FEATURES = 5  # recency / frequency features of the repeat path


@MODELS.register("ehr_transformer")
class EHRTransformer(nn.Module):
    """BEHRT-style encoder with visit-level causal attention; logits [B, T, V] at every visit."""

    def __init__(
        self,
        vocab_size: int,
        num_labels: int,
        d_model: int = 128,
        n_heads: int = 4,
        n_layers: int = 2,
        dim_feedforward: int = 256,
        dropout: float = 0.1,
        max_visits: int = 256,
        max_age: int = 120,
        history_skip: bool = True,
        history_scale: float = 10.0,
        prior_bias: bool = False,
        tokens: Literal["code", "visit"] = "code",
        repeat_path: bool = False,
        repeat_scale: float = 10.0,
        repeat_init: Literal["zero", "table"] = "zero",
    ) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        if repeat_init not in ("zero", "table"):
            raise ValueError(f"repeat_init must be 'zero' or 'table', got {repeat_init!r}")
        if repeat_init == "table" and not repeat_path:
            raise ValueError("repeat_init: table starts the repeat path at the repeat table; set repeat_path: true")
        if tokens not in ("code", "visit"):
            raise ValueError(f"tokens must be 'code' or 'visit', got {tokens!r}")
        self.tokens = tokens
        self.num_labels = num_labels
        self.n_heads = n_heads
        self.max_visits = max_visits
        self.max_age = max_age
        self.code_emb = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.age_emb = nn.Embedding(max_age + 1, d_model)  # whole years, as in BEHRT
        self.visit_emb = nn.Embedding(max_visits, d_model)
        self.segment_emb = nn.Embedding(2, d_model)
        self.sex_emb = nn.Embedding(3, d_model)  # 0 unknown, 1 F, 2 M
        self.emb_norm = nn.LayerNorm(d_model)
        self.emb_drop = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, dim_feedforward, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.out_norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_labels)
        self.history = nn.Embedding(vocab_size, num_labels, padding_idx=0) if history_skip else None
        self.history_scale = history_scale
        if self.history is not None:
            nn.init.zeros_(self.history.weight)
        self.prior_bias = prior_bias
        self.repeat_scale = repeat_scale
        if repeat_path:
            self.repeat_shared = nn.Parameter(torch.zeros(REPEAT_FEATURES))
            self.repeat_bias = nn.Parameter(torch.zeros(num_labels))
            self.repeat_weight = nn.Parameter(torch.zeros(num_labels, REPEAT_FEATURES))
        self.repeat_path = repeat_path
        self.repeat_init = repeat_init

    @torch.no_grad()
    def init_output_bias(self, prevalence: Tensor | np.ndarray) -> None:
        """With ``prior_bias``: head bias = log-odds of each code's training prevalence (clipped to [1e-6, 1 - 1e-6])."""
        if not self.prior_bias:
            return
        p = torch.as_tensor(prevalence, dtype=torch.float64)
        if p.shape != (self.num_labels,):
            raise ValueError(f"prior_bias needs {self.num_labels} label prevalences; got shape {tuple(p.shape)}")
        p = p.clamp(1e-6, 1 - 1e-6)
        self.head.bias.copy_(torch.log(p / (1 - p)).to(self.head.bias.dtype))

    @torch.no_grad()
    def init_from_repeat_table(self, never: np.ndarray, last: np.ndarray, earlier: np.ndarray) -> None:
        """With ``repeat_init: table`` [ours]: start at the three-cell repeat table (module docstring).

        Head bias = log-odds of the label's rate when never coded, head weights 0; the repeat path's
        label bias and its "coded at visit t" weight carry the log-odds steps to "coded only earlier"
        and "coded at the last visit". Rates are clipped to [1e-4, 1 - 1e-4].
        """
        if self.repeat_init != "table":
            return
        rates = [torch.as_tensor(np.asarray(x), dtype=torch.float64).clamp(1e-4, 1 - 1e-4) for x in (never, last, earlier)]
        if any(r.shape != (self.num_labels,) for r in rates):
            raise ValueError(f"repeat_init: table needs 3 x {self.num_labels} label rates; got {[tuple(r.shape) for r in rates]}")
        logit = [torch.log(r / (1 - r)) for r in rates]
        self.head.bias.copy_(logit[0].to(self.head.bias.dtype))
        self.head.weight.zero_()
        self.repeat_shared.zero_()
        self.repeat_bias.copy_(((logit[2] - logit[0]) / self.repeat_scale).to(self.repeat_bias.dtype))
        self.repeat_weight.zero_()
        self.repeat_weight[:, 0] = ((logit[1] - logit[2]) / self.repeat_scale).to(self.repeat_weight.dtype)

    def attention_mask(self, visit: Tensor, token_mask: Tensor) -> Tensor:
        """Boolean mask [B * heads, L, L], True where attention is NOT allowed.

        Query i may attend key j when j is a real token of a visit <= visit(i). Padding queries
        keep visit index 0, so every row has at least one allowed key (no NaN softmax).
        """
        allowed = (visit.unsqueeze(2) >= visit.unsqueeze(1)) & token_mask.unsqueeze(1)  # (B, L, L)
        return (~allowed).repeat_interleave(self.n_heads, dim=0)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """Map a next-visit batch to logits.

        Uses ``codes, visit, age, token_mask`` [B, L], ``visit_mask`` [B, T] and ``sex`` [B].
        Returns logits [B, T, V]; rows of padded visits are computed but carry target -1.
        """
        codes, visit, token_mask = batch["codes"], batch["visit"], batch["token_mask"]
        num_visits = batch["visit_mask"].shape[1]
        age = batch["age"].nan_to_num(0.0).clamp(0, self.max_age).long()
        # (B, L, T) one-hot of each real token's visit.
        member = (visit.unsqueeze(2) == torch.arange(num_visits, device=visit.device)) & token_mask.unsqueeze(2)
        if self.tokens == "visit":
            pooled = self._encode_visits(batch, codes, age, member)
        else:
            pooled = self._encode_codes(batch, codes, visit, age, token_mask, member)
        logits = self.head(self.out_norm(pooled))  # (B, T, V)
        if self.history is not None:
            logits = logits + self.history_scale * self._history(codes, token_mask, member)
        if self.repeat_path:
            logits = self._repeat(batch, logits)
        return logits

    def _repeat(self, batch: dict[str, Tensor], logits: Tensor) -> Tensor:
        """[ours] ``logits`` plus the repeat path (module docstring) at the batch's history entries."""
        index = batch["history_index"]  # (E, 3): patient, visit, label
        dtype = self.repeat_bias.dtype
        count, recency = batch["history_count"].to(dtype), batch["history_recency"].to(dtype)
        visits_so_far = (index[:, 1] + 1).to(dtype)
        phi = torch.stack(
            [
                (recency == 0).to(dtype),
                torch.log1p(recency),
                torch.log1p(count),
                count / visits_so_far,
                torch.log1p(batch["history_gap_days"].to(dtype).clamp(min=0)),
            ],
            dim=-1,
        )  # (E, F)
        label = index[:, 2]
        extra = self.repeat_scale * (self.repeat_bias[label] + (phi * (self.repeat_shared + self.repeat_weight[label])).sum(-1))
        return logits.index_put((index[:, 0], index[:, 1], label), extra.to(logits.dtype), accumulate=True)

    def _encode_codes(self, batch: dict[str, Tensor], codes: Tensor, visit: Tensor, age: Tensor, token_mask: Tensor, member: Tensor) -> Tensor:
        """BEHRT-style: one token per code, visit-level causal attention, mean-pooled per visit -> (B, T, D)."""
        h = (
            self.code_emb(codes)
            + self.age_emb(age)
            + self.visit_emb(visit.clamp(max=self.max_visits - 1))
            + self.segment_emb(visit % 2)
            + self.sex_emb(batch["sex"]).unsqueeze(1)
        )
        h = self.emb_drop(self.emb_norm(h))
        h = self.encoder(h, mask=self.attention_mask(visit, token_mask))  # (B, L, D)
        member = member.to(h.dtype)
        return torch.einsum("blt,bld->btd", member, h) / member.sum(1).clamp(min=1).unsqueeze(2)

    def _encode_visits(self, batch: dict[str, Tensor], codes: Tensor, age: Tensor, member: Tensor) -> Tensor:
        """[ours] One token per visit (sum of its code embeddings), causal attention over visits -> (B, T, D)."""
        member = member.to(self.code_emb.weight.dtype)
        count = member.sum(1).clamp(min=1).unsqueeze(2)  # (B, T, 1)
        codes_sum = torch.einsum("blt,bld->btd", member, self.code_emb(codes))
        visit_age = torch.einsum("blt,bld->btd", member, self.age_emb(age)) / count  # every token of a visit has its age
        num_visits = member.shape[2]
        steps = torch.arange(num_visits, device=codes.device)
        h = codes_sum + visit_age + self.visit_emb(steps.clamp(max=self.max_visits - 1)) + self.sex_emb(batch["sex"]).unsqueeze(1)
        h = self.emb_drop(self.emb_norm(h))
        # Query visit t may attend key visit s when s <= t and s is a real visit; visit 0 of every
        # patient is real, so no row is empty.
        allowed = (steps.unsqueeze(1) >= steps.unsqueeze(0)) & batch["visit_mask"].unsqueeze(1)  # (B, T, T)
        mask = (~allowed).repeat_interleave(self.n_heads, dim=0)
        return self.encoder(h, mask=mask)

    def _history(self, codes: Tensor, token_mask: Tensor, member: Tensor) -> Tensor:
        """(B, T, V): the mean over visits <= t of each visit's summed history rows (see module docstring).

        Tokens visible at visit t (real tokens of visits <= t), each weighted by 1 / (t + 1): a code
        recorded at every visit so far contributes its full weight, one recorded once in ten visits a
        tenth. The constant ``history_scale`` speeds up learning of this zero-initialised path under
        Adam, whose steps are about lr in size whatever the gradient's scale. A row's real tokens are
        in time order, so taken row by row they are the (patient, visit) bags of ``embedding_bag``
        end to end, each ``counts`` long.
        """
        b = codes.shape[0]
        num_visits = member.shape[2]
        counts = member.sum(1).to(torch.long).reshape(-1)  # (B*T,) real tokens per visit
        flat = codes[token_mask]
        offsets = torch.cumsum(counts, 0) - counts
        # An empty bag (a padded visit) sums to a zero row.
        per_visit = F.embedding_bag(flat, self.history.weight, offsets, mode="sum", padding_idx=0)  # type: ignore[union-attr]  # only called with the history path on; (B*T, V)
        per_visit = per_visit.reshape(b, num_visits, -1)
        steps = torch.arange(1, num_visits + 1, device=codes.device, dtype=per_visit.dtype)
        return per_visit.cumsum(1) / steps.view(1, -1, 1)
