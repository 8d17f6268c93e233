"""Per-segment models (Ray et al. 2023, docs/methods.md section 3.3): one model per frequency segment.

The labels are split into frequency segments by :class:`clincode.labels.Segmenter` on the
training label counts. ``shared_encoder: false`` (the paper) holds one complete sub-model per
segment (a registered text model, ``base``, with its own parameters) predicting only that
segment's labels; ``shared_encoder: true`` [ours] holds one base model whose label-attention head
is replaced by one head per segment. Either way the segments' logits are scattered into the full
[B, V] logits in label order, so the wrapper trains, checkpoints and evaluates as one model.

Joint training equals separate training. The sub-models share no parameter, the SH / SH-focal
loss is a sum over entries (each entry belongs to one segment, its weight depends only on that
segment's targets), and AdamW updates each parameter from its own gradient: so the gradient and
the update of segment r's parameters depend on segment r's loss only. Three differences remain
and are documented rather than hidden: (1) global gradient-norm clipping
(``trainer.gradient_clip_val``) clips the norm over all segments together (set it to null for
exact equivalence); (2) the loss is a mean over all valid entries, so each segment's loss is
scaled by (its entries / all entries), a constant factor that Adam's scale invariance removes;
(3) early stopping and the best checkpoint are chosen on the joint validation metric rather than
per segment.

The segment assignment is state: the ``segment_of_`` buffer (int64 [V]) is saved in every
checkpoint and artefact, and loading a state dict into an unbuilt wrapper builds the sub-models
from it first, so a saved run is rebuilt from its model parameters alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from clincode.labels import Segmenter
from clincode.models.layers.label_attention import LabelAttention
from clincode.models.registry import MODELS, build_model
from clincode.registry import ParamsError

# MARN's ICD head is ``icd_head``; CAML, LAAT and PLM name theirs ``attention``.
HEAD_NAMES: tuple[str, ...] = ("attention", "icd_head")


def check_segment_of(segment_of: np.ndarray | list[int] | Tensor, num_labels: int) -> np.ndarray:
    """Validate a segment assignment: int [V], values 0..S-1 with every segment non-empty."""
    arr = np.asarray(segment_of.cpu() if isinstance(segment_of, Tensor) else segment_of)
    if arr.shape != (num_labels,):
        raise ValueError(f"segment_of must have one entry per label, shape [{num_labels}], got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"segment_of must hold integer segment ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise ValueError("segment_of must hold segment ids >= 0")
    present = np.unique(arr)
    if not np.array_equal(present, np.arange(present.size)):
        raise ValueError(f"segment_of must use every segment id 0..S-1 (no empty segment), got ids {present.tolist()[:20]}")
    return arr


class SegmentedLabelAttention(nn.Module):
    """One :class:`LabelAttention` head per segment over shared features: h [B, T, D] -> [B, V], [B, V, T].

    Drop-in replacement of a model's label-attention head (same call and outputs). With the LAAT
    form each segment gets its own projection W; the per-label vectors (U_l, F_l, b_l) are per
    label in both forms.
    """

    inverse_: Tensor  # buffer

    def __init__(self, in_dim: int, segments: list[np.ndarray], projection_dim: int | None) -> None:
        super().__init__()
        self.heads = nn.ModuleList(LabelAttention(in_dim, int(s.size), projection_dim) for s in segments)
        order = torch.as_tensor(np.concatenate(segments), dtype=torch.int64)
        self.register_buffer("inverse_", torch.argsort(order), persistent=False)

    def forward(self, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        outs = [head(h, mask) for head in self.heads]
        logits = torch.cat([o[0] for o in outs], dim=1).index_select(1, self.inverse_)  # (B, V)
        attention = torch.cat([o[1] for o in outs], dim=1).index_select(1, self.inverse_)  # (B, V, T)
        return logits, attention


@MODELS.register("segmented")
class SegmentedModel(nn.Module):
    """One sub-model (or one head) per frequency segment; segment logits scattered into [B, V].

    Args:
        vocab_size, num_labels: from the data (as for every model).
        base: registered text model of each segment (``laat``, ``caml``, ``plm``, ...).
        base_params: that model's parameters (``num_labels`` is set per segment).
        eta: eta_S of the segmentation (use the loss's eta so the model's and the SH loss's
            segments coincide).
        segment_of: the segment of each label, int [V]; None: call :meth:`set_label_counts`
            (the training path does, with the training counts) or load a saved state dict.
        shared_encoder: one encoder, one label-attention head per segment [ours] instead of one
            complete model per segment (the paper).
    """

    segment_of_: Tensor  # buffers
    inverse_: Tensor

    def __init__(
        self,
        vocab_size: int,
        num_labels: int,
        base: str = "laat",
        base_params: dict[str, Any] | None = None,
        eta: float = 0.5,
        segment_of: list[int] | None = None,
        shared_encoder: bool = False,
    ) -> None:
        super().__init__()
        if base == "segmented":
            raise ValueError("segmented base must be a text model such as 'laat' or 'plm', not 'segmented' itself")
        try:  # unknown base names fail here too, with suggestions
            MODELS.check_params(base, base_params or {})
        except ParamsError as exc:
            raise ParamsError(f"segmented base_params: {exc}") from None
        Segmenter(eta)  # validates eta (> 0, finite)
        self.vocab_size, self.num_labels = int(vocab_size), int(num_labels)
        self.base, self.base_params = base, dict(base_params or {})
        self.eta, self.shared_encoder = float(eta), bool(shared_encoder)
        # -1 until the segments are known; saved with the model (see the module docstring).
        self.register_buffer("segment_of_", torch.full((self.num_labels,), -1, dtype=torch.int64))
        self.register_buffer("inverse_", torch.zeros(0, dtype=torch.int64), persistent=False)
        if shared_encoder and self.base_params.get("init_queries_from_descriptions"):
            raise ValueError("segmented shared_encoder does not support init_queries_from_descriptions (the head is replaced)")
        self.parts = nn.ModuleList()
        self.shared: nn.Module | None = None
        self._descriptions: tuple[Tensor, Tensor] | None = None
        if segment_of is not None:
            self.set_segments(segment_of)

    # -- segments ---------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return bool(self.segment_of_[0] >= 0) if self.num_labels else False

    def set_label_counts(self, counts: np.ndarray) -> SegmentedModel:
        """Segment the labels from their training counts [V] (Segmenter with this model's eta) and build."""
        counts = np.asarray(counts)
        if counts.shape != (self.num_labels,):
            raise ValueError(f"segmented label counts must have shape [{self.num_labels}], got {counts.shape}")
        return self.set_segments(Segmenter(self.eta).fit(counts).segment_of_)

    def set_segments(self, segment_of: np.ndarray | list[int] | Tensor) -> SegmentedModel:
        """Build the sub-models for a segment assignment int [V]; a no-op if already built with it."""
        arr = check_segment_of(segment_of, self.num_labels)
        if self.built:
            if not np.array_equal(arr, self.segment_of_.cpu().numpy()):
                raise ValueError("segmented model is already built with a different segment assignment")
            return self
        segments = [np.flatnonzero(arr == s) for s in range(int(arr.max()) + 1)]
        device = self.segment_of_.device
        if self.shared_encoder:
            self.shared = self._build_shared(segments).to(device)
        else:
            for seg in segments:
                self.parts.append(self._build_base(int(seg.size)).to(device))
        self.segment_of_.copy_(torch.as_tensor(arr, device=device))
        self.inverse_ = torch.argsort(torch.as_tensor(np.concatenate(segments), device=device))
        if self._descriptions is not None:
            self._give_descriptions()
        return self

    def set_label_descriptions(self, desc_ids: Tensor, desc_mask: Tensor) -> None:
        """Label descriptions (ids [V, L], mask [V, L]): each segment model gets its labels' rows.

        Kept and handed over when the sub-models are built, if they are not yet.
        """
        if desc_ids.shape[0] != self.num_labels or desc_mask.shape != desc_ids.shape:
            raise ValueError(f"segmented label descriptions must be [V = {self.num_labels}, L], got {tuple(desc_ids.shape)}")
        self._descriptions = (desc_ids, desc_mask)
        if self.built:
            self._give_descriptions()

    def _give_descriptions(self) -> None:
        assert self._descriptions is not None
        ids, mask = self._descriptions
        for part, labels in zip(self.parts, self.segments(), strict=False):
            if hasattr(part, "set_label_descriptions"):
                index = torch.as_tensor(labels, device=ids.device)
                part.set_label_descriptions(ids.index_select(0, index), mask.index_select(0, index))  # type: ignore[operator]  # hasattr-checked

    def segments(self) -> list[np.ndarray]:
        """Label indices of each segment (segment 0 = the rarest labels)."""
        self._check_built()
        ids = self.segment_of_.cpu().numpy()
        return [np.flatnonzero(ids == s) for s in range(int(ids.max()) + 1)]

    @property
    def num_segments(self) -> int:
        return int(self.segment_of_.max()) + 1 if self.built else 0

    def _build_base(self, num_labels: int) -> nn.Module:
        return build_model(self.base, vocab_size=self.vocab_size, num_labels=num_labels, params=self.base_params)

    def _build_shared(self, segments: list[np.ndarray]) -> nn.Module:
        model = self._build_base(self.num_labels)
        for name in HEAD_NAMES:
            head = getattr(model, name, None)
            if isinstance(head, LabelAttention) and head.query.out_features == self.num_labels:
                projection = head.projection.out_features if head.projection is not None else None
                setattr(model, name, SegmentedLabelAttention(head.output_weight.shape[1], segments, projection))
                return model
        raise ValueError(
            f"segmented shared_encoder needs a base with a label-attention head (caml, laat, marn, plm); "
            f"{self.base!r} has none"
        )

    def _check_built(self) -> None:
        if not self.built:
            raise RuntimeError(
                "segmented model has no segments yet: pass segment_of, call set_label_counts(training counts) "
                "or load a saved state dict"
            )

    # -- forward ----------------------------------------------------------------------------
    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """batch -> logits [B, V] in label order."""
        self._check_built()
        if self.shared is not None:
            return _logits(self.shared(batch), self.base)
        outs = [_logits(part(batch), self.base) for part in self.parts]  # each (B, V_r)
        return torch.cat(outs, dim=-1).index_select(-1, self.inverse_)  # (B, V)

    def attention_weights(self, batch: dict[str, Tensor]) -> Tensor:
        """Label attention [B, V, T] in label order (bases with label attention only)."""
        self._check_built()
        if self.shared is not None:
            return self.shared.attention_weights(batch)  # type: ignore[operator]  # bases with label attention only (checked by the caller)
        outs = [part.attention_weights(batch) for part in self.parts]  # type: ignore[operator]  # bases with label attention only (checked by the caller)
        return torch.cat(outs, dim=1).index_select(1, self.inverse_)

    def load_embeddings(self, matrix: Tensor) -> None:
        """Copy pretrained word vectors [vocab_size, embed_dim] into every sub-model (word2vec init)."""
        self._check_built()
        for model in [self.shared] if self.shared is not None else list(self.parts):
            if not hasattr(model, "load_embeddings"):
                raise ValueError(f"segmented base {self.base!r} has no word embedding to initialise; set data.params.word2vec false")
            model.load_embeddings(matrix)  # type: ignore[operator]  # hasattr-checked

    # -- state ------------------------------------------------------------------------------
    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        # torch loads a module's own tensors before descending into its children, so building
        # the sub-models here lets a fresh wrapper load a saved run.
        saved = state_dict.get(prefix + "segment_of_")
        if saved is not None and not self.built and int(saved.min()) >= 0:
            self.set_segments(saved)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


def _logits(out: Any, base: str) -> Tensor:
    if not isinstance(out, Tensor):
        raise ValueError(f"segmented base {base!r} must return a logits tensor [B, V_r], got {type(out).__name__}")
    return out
