"""The text models (cnn, bigru, caml, laat, marn): shapes, padding, attention, embeddings, errors; the
unpacked BiGRUEncoder against the packed reference; masked max.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from clincode.models import build_model
from clincode.models.text import BiGRUEncoder, masked_max

VOCAB, LABELS, CCS = 30, 5, 3
TINY = {
    "cnn": {"embed_dim": 8, "num_filters": 6, "kernel_sizes": (3, 4)},
    "bigru": {"embed_dim": 8, "hidden_size": 4},
    "caml": {"embed_dim": 8, "num_filters": 6, "kernel_size": 4},
    "laat": {"embed_dim": 8, "hidden_size": 4, "attention_dim": 5},
    "marn": {"embed_dim": 8, "hidden_size": 4},
    "marn_ccs": {"embed_dim": 8, "hidden_size": 4, "num_ccs": CCS},
}
ATTENTION_MODELS = ["caml", "laat", "marn", "marn_ccs"]


def make(key: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(key.removesuffix("_ccs"), vocab_size=VOCAB, num_labels=LABELS, params=TINY[key])


def make_batch(lengths: list[int], total: int, seed: int = 1) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.zeros(len(lengths), total, dtype=torch.long)
    for i, n in enumerate(lengths):
        tokens[i, :n] = torch.randint(1, VOCAB, (n,), generator=gen)
    return {"tokens": tokens, "token_mask": tokens != 0}


def icd(out: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
    return out["icd"] if isinstance(out, dict) else out


@pytest.mark.parametrize("key", list(TINY))
def test_output_shapes(key: str) -> None:
    model = make(key)
    out = model(make_batch([7, 4, 1], 9))
    if key == "marn_ccs":
        assert isinstance(out, dict) and set(out) == {"icd", "ccs"}
        assert out["icd"].shape == (3, LABELS) and out["ccs"].shape == (3, CCS)
    else:
        assert isinstance(out, torch.Tensor) and out.shape == (3, LABELS)
    assert torch.isfinite(icd(out)).all()


@pytest.mark.parametrize("key", list(TINY))
def test_padding_invariance_eval(key: str) -> None:
    model = make(key)
    # Warm BatchNorm running statistics away from their (0, 1) start so eval BN is non-trivial.
    model.train()
    with torch.no_grad():
        for seed in range(3):
            model(make_batch([8, 5, 3], 8, seed=seed))
    model.eval()
    short = make_batch([6, 3, 2], 6)
    long = {"tokens": torch.nn.functional.pad(short["tokens"], (0, 7)), "token_mask": None}
    long["token_mask"] = long["tokens"] != 0
    with torch.no_grad():
        a, b = model(short), model(long)
        # Each document alone, unpadded, gives the same row as in the padded batch.
        alone = [icd(model({k: v[i : i + 1, :n] for k, v in short.items()}))[0] for i, n in enumerate((6, 3, 2))]
    if isinstance(a, dict):
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-5)
    else:
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for i in range(3):
        torch.testing.assert_close(icd(a)[i], alone[i], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("key", ATTENTION_MODELS)
def test_attention_sums_to_one_and_zero_on_padding(key: str) -> None:
    model = make(key).eval()
    batch = make_batch([7, 4, 1], 9)
    with torch.no_grad():
        a = model.attention_weights(batch)
    assert a.shape == (3, LABELS, 9)
    mask = batch["token_mask"].unsqueeze(1).expand_as(a)
    torch.testing.assert_close(a.sum(-1), torch.ones(3, LABELS))
    assert (a[~mask] == 0).all()
    assert (a[mask] > 0).all()


@pytest.mark.parametrize("key", list(TINY))
def test_gradients_reach_embeddings(key: str) -> None:
    model = make(key).train()
    batch = make_batch([7, 4, 2], 7)
    out = model(batch)
    loss = sum(v.sum() for v in out.values()) if isinstance(out, dict) else out.sum()
    loss.backward()
    grad = model.embed.embedding.weight.grad
    assert grad is not None
    used = batch["tokens"][batch["token_mask"]].unique()
    assert (grad[used].abs().sum(1) > 0).all()  # every used word receives a gradient
    assert (grad[0] == 0).all()  # PAD row never does


def test_freeze_embeddings() -> None:
    model = build_model("caml", vocab_size=VOCAB, num_labels=LABELS, params={**TINY["caml"], "freeze_embeddings": True})
    model(make_batch([5], 5)).sum().backward()
    assert not model.embed.embedding.weight.requires_grad
    assert model.embed.embedding.weight.grad is None
    assert model.conv.conv.weight.grad is not None


def test_load_embeddings_normalises_rows() -> None:
    model = make("bigru")
    matrix = torch.randn(VOCAB, 8) * 5
    matrix[3] = 0.0
    model.load_embeddings(matrix)
    w = model.embed.embedding.weight
    torch.testing.assert_close(w[1:].norm(dim=1)[[i for i in range(VOCAB - 1) if i != 2]], torch.ones(VOCAB - 2))
    assert (w[0] == 0).all() and (w[3] == 0).all()
    torch.testing.assert_close(w[5], matrix[5] / matrix[5].norm())
    with pytest.raises(ValueError, match="shape"):
        model.load_embeddings(torch.randn(VOCAB, 9))


@pytest.mark.parametrize("name", ["cnn", "bigru", "caml", "laat", "marn"])
def test_unknown_param_is_named(name: str) -> None:
    with pytest.raises(ValueError, match=r"got unknown parameter\(s\) 'hiden_size'"):
        build_model(name, vocab_size=VOCAB, num_labels=LABELS, params={"hiden_size": 3})


def test_bigru_encoder_matches_packed_reference() -> None:
    torch.manual_seed(1)
    enc = BiGRUEncoder(6, 5)
    lengths = torch.tensor([9, 4, 1, 0, 7])
    mask = torch.arange(9)[None] < lengths[:, None]
    x = (torch.randn(5, 9, 6) * mask[..., None]).requires_grad_()
    out = enc(x, mask)
    packed = pack_padded_sequence(x, lengths.clamp(min=1), batch_first=True, enforce_sorted=False)
    ref, _ = enc.gru(packed)
    ref = pad_packed_sequence(ref, batch_first=True, total_length=9)[0] * mask[..., None]
    torch.testing.assert_close(out, ref)
    grad = torch.randn_like(out)
    params = [x, *enc.gru.parameters()]
    for a, b in zip(torch.autograd.grad(out, params, grad), torch.autograd.grad(ref, params, grad), strict=True):
        torch.testing.assert_close(a, b)


def test_masked_max_and_empty_document() -> None:
    h = torch.tensor([[[1.0, -2.0], [3.0, -1.0], [9.0, 9.0]], [[-5.0, -6.0], [0.0, 0.0], [0.0, 0.0]]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    torch.testing.assert_close(masked_max(h, mask), torch.tensor([[3.0, -1.0], [-5.0, -6.0]]))
    assert (masked_max(h, torch.zeros_like(mask)) == 0).all()
    model = make("marn_ccs").eval()
    batch = {"tokens": torch.zeros(1, 4, dtype=torch.long), "token_mask": torch.zeros(1, 4, dtype=torch.bool)}
    with torch.no_grad():
        out = model(batch)
    assert torch.isfinite(out["icd"]).all() and torch.isfinite(out["ccs"]).all()


def test_missing_batch_field_is_named() -> None:
    with pytest.raises(ValueError, match="token_mask"):
        make("cnn")({"tokens": torch.ones(1, 3, dtype=torch.long)})


def test_attention_weights_only_on_label_attention_models():
    from clincode.models import build_model

    batch = {"tokens": torch.tensor([[3, 4, 0]]), "token_mask": torch.tensor([[True, True, False]])}
    cnn = build_model("cnn", vocab_size=10, num_labels=3, params={"embed_dim": 8, "num_filters": 4})
    with pytest.raises(NotImplementedError, match="no label attention"):
        cnn.attention_weights(batch)
