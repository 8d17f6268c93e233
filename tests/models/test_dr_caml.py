"""DR-CAML's description regulariser against an explicit per-(document, label) loop."""

from __future__ import annotations

import pytest
import torch

from clincode.models import build_model

VOCAB, LABELS, F = 30, 6, 5
TINY = {"embed_dim": 8, "num_filters": F, "kernel_size": 3}
# Description lengths per label; label 4 has no description.
DESC_LENGTHS = [4, 2, 6, 1, 0, 3]


def descriptions(width: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    ids = torch.zeros(LABELS, width, dtype=torch.long)
    for lab, n in enumerate(DESC_LENGTHS):
        ids[lab, :n] = torch.randint(1, VOCAB, (n,), generator=gen)
    return ids, ids != 0


def make(**params: object) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model("dr_caml", vocab_size=VOCAB, num_labels=LABELS, params={**TINY, **params})
    model.set_label_descriptions(*descriptions())
    return model


TARGETS = torch.tensor(
    [
        [1, 0, -1, 1, 1, 0],  # label 4 positive but has no description: left out
        [0, 0, 0, 0, 0, 0],  # no positive: not counted in the mean over documents
        [0, 1, 1, -1, 0, 1],
        [0, 0, 0, 0, 1, 0],  # only a description-less positive: not counted either
    ]
)


def slow_regulariser(model: torch.nn.Module, targets: torch.Tensor, lam: float) -> torch.Tensor:
    """lambda * mean over documents of sum over positive labels of ||z_l - beta_l||^2 / F (caml-mimic)."""
    ids, _ = descriptions()
    per_doc = []
    for i in range(targets.shape[0]):
        terms = []
        for lab in range(LABELS):
            n = DESC_LENGTHS[lab]
            if targets[i, lab] != 1 or n == 0:
                continue
            # The description alone, unpadded: embedding -> conv ("same" length) -> tanh -> max -> fc.
            x = model.desc_embedding(ids[lab, :n]).T.unsqueeze(0)  # (1, E, n)
            k = model.desc_conv.conv.kernel_size[0]
            left = (k - 1) // 2
            conv = model.desc_conv.conv
            h = torch.nn.functional.conv1d(torch.nn.functional.pad(x, (left, k - 1 - left)), conv.weight, conv.bias)
            z = model.desc_fc(h.tanh().max(dim=2).values[0])
            beta = model.attention.output_weight[lab]
            terms.append(sum((z[f] - beta[f]) ** 2 for f in range(F)) / F)
        if terms:
            per_doc.append(sum(terms))
    return lam * sum(per_doc) / len(per_doc)


def test_regulariser_matches_explicit_loop() -> None:
    model = make(description_lambda=0.3)
    got = model.auxiliary_loss({"targets": TARGETS})
    torch.testing.assert_close(got, slow_regulariser(model, TARGETS, 0.3))
    assert got.item() > 0
    # Float targets (probabilities) are thresholded at 0.5 the same way.
    torch.testing.assert_close(model.auxiliary_loss({"targets": TARGETS.float().clamp(min=0) * 0.9}), got)


def test_regulariser_is_zero_when_beta_equals_z() -> None:
    model = make(description_lambda=1.0)
    ids, mask = descriptions()
    with torch.no_grad():
        z = model.description_vectors(ids, mask)
        model.attention.output_weight.copy_(z)
    assert model.auxiliary_loss({"targets": TARGETS}).abs().item() < 1e-12
    with torch.no_grad():
        model.attention.output_weight[1] += 0.5  # label 1 is positive in document 2 only
    # Document 2 now adds ||0.5||^2 over F entries / F = 0.25; mean over the 2 counted documents.
    torch.testing.assert_close(model.auxiliary_loss({"targets": TARGETS}), torch.tensor(0.25 / 2))


@pytest.mark.parametrize("shared", [False, True])
def test_gradients_reach_description_module_and_beta(shared: bool) -> None:
    model = make(description_lambda=0.5, share_description_embedding=shared)
    model.auxiliary_loss({"targets": TARGETS}).backward()
    assert model.desc_conv.conv.weight.grad.abs().sum() > 0
    assert model.desc_fc.weight.grad.abs().sum() > 0
    beta_grad = model.attention.output_weight.grad
    assert (beta_grad[[0, 1, 2, 3, 5]].abs().sum(1) > 0).all()  # positives with a description
    assert (beta_grad[4] == 0).all()  # description-less label gets no pull
    table = model.embed.embedding if shared else model.desc_embedding
    used = descriptions()[0][[0, 1, 2, 3, 5]].unique()
    used = used[used != 0]
    assert (table.weight.grad[used].abs().sum(1) > 0).all()
    assert (shared and model.desc_embedding is None) or (not shared and model.embed.embedding.weight.grad is None)


def test_logits_are_camls_and_lambda_zero_gives_none() -> None:
    torch.manual_seed(0)
    caml = build_model("caml", vocab_size=VOCAB, num_labels=LABELS, params=TINY).eval()
    dr = make(description_lambda=0.0).eval()
    tokens = torch.randint(1, VOCAB, (2, 9))
    batch = {"tokens": tokens, "token_mask": tokens != 0}
    with torch.no_grad():
        torch.testing.assert_close(dr(batch), caml(batch))
    assert dr.auxiliary_loss({"targets": TARGETS}) is None


def test_batch_without_positive_gives_connected_zero() -> None:
    model = make()
    loss = model.auxiliary_loss({"targets": torch.zeros(3, LABELS)})
    assert loss.item() == 0.0 and loss.requires_grad


def test_errors_name_the_problem() -> None:
    torch.manual_seed(0)
    model = build_model("dr_caml", vocab_size=VOCAB, num_labels=LABELS, params=TINY)
    with pytest.raises(ValueError, match="set_label_descriptions"):
        model.auxiliary_loss({"targets": TARGETS})
    model.set_label_descriptions(*descriptions())
    with pytest.raises(ValueError, match="targets"):
        model.auxiliary_loss({"tokens": torch.ones(1, 2, dtype=torch.long)})
    with pytest.raises(ValueError, match=r"\[B, 6\]"):
        model.auxiliary_loss({"targets": torch.ones(2, 5)})
    with pytest.raises(ValueError, match="description_lambda"):
        build_model("dr_caml", vocab_size=VOCAB, num_labels=LABELS, params={"description_lambda": -1.0})


def test_load_embeddings_fills_the_description_copy() -> None:
    model = make()
    matrix = torch.randn(VOCAB, 8)
    model.load_embeddings(matrix)
    torch.testing.assert_close(model.desc_embedding.weight, model.embed.embedding.weight)
    torch.testing.assert_close(model.desc_embedding.weight[3], matrix[3] / matrix[3].norm())
