"""EHR Transformer: shapes, visit-level causality, registry contract."""

import pytest
import torch

from clincode.models import MODELS, build_model, describe_models


def make_batch(b=3, visits=4, per_visit=3, vocab=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    L = visits * per_visit
    codes = torch.randint(2, vocab, (b, L), generator=g)
    visit = torch.arange(visits).repeat_interleave(per_visit).expand(b, L).clone()
    token_mask = torch.ones(b, L, dtype=torch.bool)
    # second patient: only 2 visits, rest padding
    token_mask[1, 2 * per_visit :] = False
    codes[1, 2 * per_visit :] = 0
    visit[1, 2 * per_visit :] = 0
    visit_mask = torch.ones(b, visits, dtype=torch.bool)
    visit_mask[1, 2:] = False
    age = 40 + visit.float() * 0.5
    return {
        "codes": codes,
        "visit": visit,
        "age": age,
        "token_mask": token_mask,
        "visit_mask": visit_mask,
        "sex": torch.tensor([1, 2, 0])[:b],
    }


def test_logits_shape_and_finite():
    model = build_model("ehr_transformer", vocab_size=50, num_labels=7, params={"d_model": 32, "n_heads": 2})
    out = model(make_batch())
    assert out.shape == (3, 4, 7)
    assert torch.isfinite(out).all()


def test_visit_level_causality():
    """Changing visit t+1's tokens leaves the logits of visits <= t unchanged (and changes t+1)."""
    torch.manual_seed(0)
    model = build_model("ehr_transformer", vocab_size=50, num_labels=5, params={"d_model": 32, "n_heads": 2, "dropout": 0.0})
    model.eval()
    batch = make_batch()
    base = model(batch)
    changed = {k: v.clone() for k, v in batch.items()}
    sel = changed["visit"][0] == 2
    changed["codes"][0, sel] = (changed["codes"][0, sel] + 7) % 48 + 2
    out = model(changed)
    assert torch.allclose(base[0, :2], out[0, :2], atol=1e-6)
    assert not torch.allclose(base[0, 2], out[0, 2], atol=1e-4)
    # other patients are untouched
    assert torch.allclose(base[1:], out[1:], atol=1e-6)


def test_padding_does_not_change_real_visits():
    torch.manual_seed(0)
    model = build_model("ehr_transformer", vocab_size=50, num_labels=5, params={"d_model": 32, "n_heads": 2, "dropout": 0.0})
    model.eval()
    batch = make_batch()
    out = model(batch)
    single = {k: v[1:2] for k, v in batch.items()}
    trimmed = {k: (v[:, :6] if v.dim() == 2 and k != "visit_mask" else v) for k, v in single.items()}
    trimmed["visit_mask"] = single["visit_mask"][:, :2]
    out_trim = model(trimmed)
    assert torch.allclose(out[1, :2], out_trim[0, :2], atol=1e-5)


def test_unknown_param_named():
    with pytest.raises(ValueError, match="d_modle"):
        build_model("ehr_transformer", vocab_size=10, num_labels=3, params={"d_modle": 8})


def test_registry_lists_models():
    names = [d["name"] for d in describe_models()]
    assert "ehr_transformer" in names and "ehr_transformer" in MODELS
    with pytest.raises(KeyError, match="known: .*ehr_transformer"):
        MODELS.get("ehr_transformr")


def test_gradients_flow_to_all_embeddings():
    model = build_model("ehr_transformer", vocab_size=50, num_labels=5, params={"d_model": 16, "n_heads": 2})
    model(make_batch()).sum().backward()
    for name in ["code_emb", "age_emb", "visit_emb", "segment_emb", "sex_emb", "head"]:
        assert getattr(model, name).weight.grad.abs().sum() > 0, name


def test_prior_bias_sets_head_bias_to_training_log_odds():
    params = {"d_model": 16, "n_heads": 2, "prior_bias": True}
    model = build_model("ehr_transformer", vocab_size=50, num_labels=3, params=params)
    model.init_output_bias(torch.tensor([0.01, 0.5, 0.0]))
    expected = torch.tensor([0.01, 0.5, 1e-6], dtype=torch.float64)
    torch.testing.assert_close(torch.sigmoid(model.head.bias.double()), expected, rtol=1e-5, atol=1e-9)
    with pytest.raises(ValueError, match="3 label prevalences"):
        model.init_output_bias(torch.tensor([0.1, 0.2]))


def test_prior_bias_off_by_default_leaves_the_head_alone():
    model = build_model("ehr_transformer", vocab_size=50, num_labels=3, params={"d_model": 16, "n_heads": 2})
    before = model.head.bias.clone()
    model.init_output_bias(torch.tensor([0.01, 0.5, 0.0]))
    assert torch.equal(model.head.bias, before)
