"""Description-initialised label queries of the text models, and the validation of label descriptions."""

from __future__ import annotations

import pytest
import torch

from clincode.models import build_model

VOCAB, LABELS = 30, 5
TINY = {
    "caml": {"embed_dim": 8, "num_filters": 6, "kernel_size": 3},
    "dr_caml": {"embed_dim": 8, "num_filters": 6, "kernel_size": 3},
    "laat": {"embed_dim": 8, "hidden_size": 4, "attention_dim": 5},
    "marn": {"embed_dim": 8, "hidden_size": 4},
}
DESC_LENGTHS = [3, 1, 0, 5, 2]  # label 2 has no description


def descriptions() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(7)
    ids = torch.zeros(LABELS, 6, dtype=torch.long)
    for lab, n in enumerate(DESC_LENGTHS):
        ids[lab, :n] = torch.randint(1, VOCAB, (n,), generator=gen)
    return ids, ids != 0


def make(name: str, init: bool, **extra: object) -> torch.nn.Module:
    torch.manual_seed(0)
    params = {**TINY[name], "init_queries_from_descriptions": init, **extra}
    return build_model(name, vocab_size=VOCAB, num_labels=LABELS, params=params)


def head(model: torch.nn.Module) -> torch.nn.Module:
    return model.icd_head if hasattr(model, "icd_head") else model.attention


@pytest.mark.parametrize("name", list(TINY))
def test_default_leaves_every_parameter_unchanged(name: str) -> None:
    plain = make(name, init=False)
    with_desc = make(name, init=False)
    with_desc.set_label_descriptions(*descriptions())
    a, b = plain.state_dict(), with_desc.state_dict()
    assert a.keys() == b.keys()  # descriptions are not saved in checkpoints
    for key in a:
        assert torch.equal(a[key], b[key]), key


def explicit_query_directions(model: torch.nn.Module, name: str) -> torch.Tensor:
    """Per label: mean over the description's tokens (alone, unpadded) of the encoder's query-space features."""
    ids, _ = descriptions()
    model.eval()
    rows = []
    with torch.no_grad():
        for lab, n in enumerate(DESC_LENGTHS):
            if n == 0:
                rows.append(torch.zeros(head(model).query.weight.shape[1]))
                continue
            tok = ids[lab : lab + 1, :n]
            mask = torch.ones_like(tok, dtype=torch.bool)
            emb = model.embed.embedding(tok)
            if name in ("caml", "dr_caml"):
                feats = model.conv(emb, mask).tanh()
            elif name == "laat":
                feats = torch.tanh(model.attention.projection(model.encoder(emb, mask)))
            else:
                feats = model.ram(model.encoder(emb, mask), mask)
            rows.append(feats[0].mean(0))
    return torch.stack(rows)


@pytest.mark.parametrize("name", list(TINY))
def test_queries_follow_the_documented_rule(name: str) -> None:
    model = make(name, init=True)
    before = head(model).query.weight.detach().clone()
    output_before = head(model).output_weight.detach().clone()
    model.set_label_descriptions(*descriptions())
    assert model.training  # the eval-mode encoding restores the mode
    u = head(model).query.weight.detach()
    n_labels, dim = u.shape
    expected_norm = (2.0 * dim / (dim + n_labels)) ** 0.5  # Xavier-uniform expected row norm
    directions = explicit_query_directions(model, name)
    for lab, n in enumerate(DESC_LENGTHS):
        if n == 0:
            assert torch.equal(u[lab], before[lab])  # empty description: Xavier row kept
        else:
            torch.testing.assert_close(u[lab], directions[lab] / directions[lab].norm() * expected_norm)
            assert not torch.allclose(u[lab], before[lab])
    assert torch.equal(head(model).output_weight.detach(), output_before)  # F untouched


@pytest.mark.parametrize("name", ["caml", "marn"])
def test_init_does_not_depend_on_call_order(name: str) -> None:
    matrix = torch.randn(VOCAB, 8)
    first = make(name, init=True)
    first.set_label_descriptions(*descriptions())
    first.load_embeddings(matrix)
    second = make(name, init=True)
    second.load_embeddings(matrix)
    second.set_label_descriptions(*descriptions())
    torch.testing.assert_close(head(first).query.weight, head(second).query.weight)


def test_marn_ccs_head_is_untouched() -> None:
    plain = make("marn", init=False, num_ccs=3)
    model = make("marn", init=True, num_ccs=3)
    model.set_label_descriptions(*descriptions())
    assert torch.equal(model.ccs_head.query.weight, plain.ccs_head.query.weight)


def test_description_validation_messages() -> None:
    model = make("caml", init=True)
    ids, mask = descriptions()
    with pytest.raises(ValueError, match=r"V = 5 labels"):
        model.set_label_descriptions(ids[:4], mask[:4])
    with pytest.raises(ValueError, match="desc_mask must have the shape"):
        model.set_label_descriptions(ids, mask[:, :3])
    holes = mask.clone()
    holes[0, 1] = False
    with pytest.raises(ValueError, match="prefix"):
        model.set_label_descriptions(ids, holes)
    with pytest.raises(ValueError, match=r"\[0, 30\)"):
        model.set_label_descriptions(ids.masked_fill(mask, 99), mask)
