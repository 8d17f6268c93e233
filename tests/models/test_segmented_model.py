"""The `segmented` model wrapper: scatter order, independence of segments, shared-encoder heads, state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from clincode.labels import Segmenter
from clincode.losses import LabelStats, build_loss
from clincode.losses.harmonic import segmented_harmonic_loss
from clincode.models import MODELS, build_model

VOCAB, V, B, T = 40, 9, 5, 12
SMALL = {"embed_dim": 8, "hidden_size": 6, "attention_dim": 5}
# counts -> segments with eta 0.5: {1,1,2} (labels 2,4,6), {10,11,12} (labels 1,3,5), {700,...}
COUNTS = np.array([700, 10, 1, 12, 2, 11, 1, 650, 720])


def batch(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([12, 9, 5, 1, 7])
    mask = torch.arange(T)[None, :] < lengths[:, None]
    tokens = torch.randint(2, VOCAB, (B, T), generator=g) * mask
    targets = (torch.rand(B, V, generator=g) < 0.4).long()
    return {"tokens": tokens, "token_mask": mask, "targets": targets}


def stats_with_counts(counts: np.ndarray) -> LabelStats:
    """Training statistics whose label j is positive in the first counts[j] of max(counts) rows."""
    rows = int(counts.max()) + 3
    t = (np.arange(rows)[:, None] < counts[None, :]).astype(np.int8)
    return LabelStats.from_targets([t])


def segmented(shared: bool = False, base: str = "laat", seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    params = SMALL if base == "laat" else {"embed_dim": 8, "num_filters": 6, "kernel_size": 3}
    model = build_model(
        "segmented", vocab_size=VOCAB, num_labels=V, params={"base": base, "base_params": params, "shared_encoder": shared}
    )
    model.set_label_counts(COUNTS)
    return model.eval()


def test_registered_and_segments_come_from_the_segmenter() -> None:
    assert "segmented" in MODELS
    model = segmented()
    expected = Segmenter(0.5).fit(COUNTS).segments_
    assert [s.tolist() for s in model.segments()] == [s.tolist() for s in expected]
    assert model.num_segments == len(model.parts) == 3


@pytest.mark.parametrize("base", ["laat", "caml"])
def test_logits_are_each_sub_models_outputs_in_label_order(base: str) -> None:
    model = segmented(base=base)
    b = batch()
    logits = model(b)
    assert logits.shape == (B, V)
    # reference: an explicit loop placing sub-model r's column j at label segments[r][j]
    expected = torch.empty(B, V)
    for part, labels in zip(model.parts, model.segments(), strict=True):
        out = part(b)
        for j, label in enumerate(labels):
            expected[:, label] = out[:, j]
    assert torch.allclose(logits, expected)


def test_a_segment_logits_depend_only_on_its_own_sub_model() -> None:
    model = segmented()
    b = batch()
    before = model(b)
    with torch.no_grad():
        for p in model.parts[1].parameters():
            p.add_(torch.randn_like(p))
    after = model(b)
    seg1 = model.segments()[1]
    others = np.setdiff1d(np.arange(V), seg1)
    assert not torch.allclose(before[:, seg1], after[:, seg1])
    assert torch.equal(before[:, others], after[:, others])


@pytest.mark.parametrize("shared", [False, True])
def test_gradient_of_segment_parameters_comes_only_from_its_segment_loss(shared: bool) -> None:
    """SH over all labels vs SH over segment r alone (other labels ignored), rescaled to the same mean.

    With separate sub-models the whole gradient of sub-model r matches; with a shared encoder the
    statement holds for segment r's own head.
    """
    model = segmented(shared=shared).train()
    torch.manual_seed(1)
    b = batch(3)
    # the loss fitted on the training counts COUNTS segments exactly as the model does
    loss_fn = build_loss("sh", V).fit(stats_with_counts(COUNTS))
    segment_ids, inv_beta = loss_fn.segment_ids_, loss_fn.inv_beta_[: loss_fn._num_segments]
    assert torch.equal(segment_ids, model.segment_of_)

    def grads(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> list[torch.Tensor]:
        return list(torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True))

    for r, labels in enumerate(model.segments()):
        params = list((model.shared.attention.heads[r] if shared else model.parts[r]).parameters())
        torch.manual_seed(5)  # same dropout masks in both passes
        full = segmented_harmonic_loss(model(b), b["targets"], segment_ids, inv_beta)
        only_r = b["targets"].clone()
        only_r[:, np.setdiff1d(np.arange(V), labels)] = -1
        torch.manual_seed(5)
        part = segmented_harmonic_loss(model(b), only_r, segment_ids, inv_beta) * (labels.size / V)
        g_full, g_part = grads(full, params), grads(part, params)
        for a, c in zip(g_full, g_part, strict=True):
            assert a is not None and c is not None
            assert torch.allclose(a, c, atol=1e-7), f"segment {r}"
        assert any(a.abs().sum() > 0 for a in g_full)


def test_shared_encoder_has_one_encoder_and_one_head_per_segment() -> None:
    model = segmented(shared=True)
    assert len(model.parts) == 0
    heads = model.shared.attention.heads
    assert [h.query.out_features for h in heads] == [s.size for s in model.segments()]
    b = batch()
    logits = model(b)
    # reference: the shared features through each head, placed by label
    with torch.no_grad():
        enc = model.shared
        tokens, mask = b["tokens"], b["token_mask"]
        h = enc.dropout(enc.encoder(enc.embed(tokens, mask), mask))
        expected = torch.empty(B, V)
        for head, labels in zip(heads, model.segments(), strict=True):
            expected[:, labels] = head(h, mask)[0]
    assert torch.allclose(logits, expected, atol=1e-6)
    att = model.attention_weights(b)
    assert att.shape == (B, V, T) and torch.allclose(att.sum(-1), torch.ones(B, V), atol=1e-5)


@pytest.mark.parametrize("shared", [False, True])
def test_state_dict_round_trip_builds_an_unbuilt_wrapper(shared: bool) -> None:
    model = segmented(shared=shared)
    state = model.state_dict()
    assert "segment_of_" in state
    fresh = build_model(
        "segmented",
        vocab_size=VOCAB,
        num_labels=V,
        params={"base": "laat", "base_params": SMALL, "shared_encoder": shared},
    )
    assert not fresh.built
    fresh.load_state_dict(state)
    fresh.eval()
    b = batch(2)
    assert torch.equal(fresh(b), model(b))


def test_segment_of_argument_and_errors() -> None:
    seg = [0, 1, 0, 1, 0, 1, 0, 2, 2]
    model = build_model("segmented", vocab_size=VOCAB, num_labels=V, params={"base_params": SMALL, "segment_of": seg})
    assert model.segment_of_.tolist() == seg and model.num_segments == 3
    with pytest.raises(ValueError, match="different segment assignment"):
        model.set_segments([0] * V)
    unbuilt = build_model("segmented", vocab_size=VOCAB, num_labels=V, params={"base_params": SMALL})
    with pytest.raises(RuntimeError, match="no segments yet"):
        unbuilt(batch())
    with pytest.raises(ValueError, match="shape \\[9\\]"):
        unbuilt.set_segments([0, 1])
    with pytest.raises(ValueError, match="no empty segment"):
        unbuilt.set_segments([0, 2, 0, 2, 0, 2, 0, 2, 2])
    with pytest.raises(ValueError, match="eta must be a finite number > 0"):
        build_model("segmented", vocab_size=VOCAB, num_labels=V, params={"eta": 0})
    with pytest.raises(ValueError, match=r"segmented base_params: model 'laat' got unknown parameter\(s\) 'hiden_size'"):
        build_model("segmented", vocab_size=VOCAB, num_labels=V, params={"base_params": {"hiden_size": 3}})
    with pytest.raises(KeyError):
        build_model("segmented", vocab_size=VOCAB, num_labels=V, params={"base": "laaat"})
    with pytest.raises(ValueError, match="label-attention head"):
        build_model(
            "segmented", vocab_size=VOCAB, num_labels=V, params={"base": "cnn", "shared_encoder": True, "segment_of": seg}
        )


def test_label_descriptions_reach_each_segment_model_with_its_rows() -> None:
    seg = [0, 1, 0, 1, 0, 1, 0, 2, 2]
    ids = torch.arange(V * 3).reshape(V, 3) % (VOCAB - 2) + 2
    mask = torch.ones(V, 3, dtype=torch.bool)
    unbuilt = build_model("segmented", vocab_size=VOCAB, num_labels=V, params={"base_params": SMALL})
    unbuilt.set_label_descriptions(ids, mask)  # before the segments exist: handed over at build time
    unbuilt.set_segments(seg)
    for part, labels in zip(unbuilt.parts, unbuilt.segments(), strict=True):
        assert torch.equal(part.desc_ids, ids[labels])
    with pytest.raises(ValueError, match="does not support init_queries_from_descriptions"):
        build_model(
            "segmented",
            vocab_size=VOCAB,
            num_labels=V,
            params={"base_params": {**SMALL, "init_queries_from_descriptions": True}, "shared_encoder": True},
        )
